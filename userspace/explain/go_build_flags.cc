#include "userspace/explain/go_build_flags.h"

namespace gotrace {
namespace {

std::string_view trim(std::string_view text) {
  size_t first = text.find_first_not_of(" \t\n\r");
  if (first == std::string_view::npos) return {};
  size_t last = text.find_last_not_of(" \t\n\r");
  return text.substr(first, last - first + 1);
}

// pkgpattern.MatchPattern: "..." matches any string, and a pattern ending in
// "/..." also matches the path before it. The greedy match with one
// backtracking point takes O(pattern × text), whatever the pattern.
bool wildcard_matches(std::string_view pattern, std::string_view text) {
  constexpr std::string_view kWildcard = "...";
  if (pattern.ends_with("/...") && text == pattern.substr(0, pattern.size() - 4)) return true;
  auto wildcard_at = [&](size_t i) { return pattern.substr(i, kWildcard.size()) == kWildcard; };
  size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && wildcard_at(p)) {
      star = p;
      p += kWildcard.size();
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + kWildcard.size();
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && wildcard_at(p)) p += kWildcard.size();
  return p == pattern.size();
}

// A relative pattern ("./...", "./cmd/tool", "."), from the module root.
bool relative_pattern_matches(std::string_view pattern, std::string_view module_dir) {
  std::string normalized;
  for (std::string_view rest = pattern; !rest.empty();) {
    size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    rest.remove_prefix(slash == std::string_view::npos ? rest.size() : slash + 1);
    if (part == "." || part.empty()) continue;
    if (part == "..") return false;  // above the module: none of its packages
    if (!normalized.empty()) normalized += '/';
    normalized += part;
  }
  if (normalized.empty()) return module_dir.empty();
  if (normalized == "...") return true;
  return wildcard_matches(normalized, module_dir);
}

void add_environment(GoBuildSettings* settings, std::string name, std::string value) {
  settings->environment.emplace_back(std::move(name), std::move(value));
}

// The settings that become environment variables; the rest are flags.
Status read_environment(const BuildInfo& info, GoBuildSettings* settings) {
  std::string goos = info.setting("GOOS").value_or("linux");
  std::string goarch = info.setting("GOARCH").value_or("amd64");
  if (goos != "linux" || goarch != "amd64")
    return make_error("built for {}/{}; only linux/amd64 builds can be compiled again here", goos, goarch);
  add_environment(settings, "GOOS", goos);
  add_environment(settings, "GOARCH", goarch);
  // Before Go 1.18 no CGO_ENABLED was recorded: such a build had cgo on
  // when it used it, which is what the default gives again.
  if (auto cgo = info.setting("CGO_ENABLED")) add_environment(settings, "CGO_ENABLED", *cgo);
  for (const char* name : {"CGO_CFLAGS", "CGO_CPPFLAGS", "CGO_CXXFLAGS", "CGO_LDFLAGS", "GOAMD64"})
    if (auto value = info.setting(name)) add_environment(settings, name, *value);
  std::string experiments = info.setting("GOEXPERIMENT").value_or("");
  if (experiments.empty()) {
    for (const std::string& experiment : info.experiments)
      experiments += (experiments.empty() ? "" : ",") + experiment;
  }
  // Set even when empty, so that one in the caller's environment is not used.
  add_environment(settings, "GOEXPERIMENT", experiments);
  return Ok{};
}

Status read_flag(const std::string& key, const std::string& value, GoBuildSettings* settings) {
  if (key == "-buildmode") {
    if (value != "exe" && value != "pie")
      return make_error("built with -buildmode={}; only exe and pie are supported", value);
    settings->flags.push_back("-buildmode=" + value);
  } else if (key == "-compiler") {
    if (value != "gc") return make_error("built with -compiler={}; only gc is supported", value);
  } else if (key == "-tags" || key == "-asmflags") {
    settings->flags.push_back(key + "=" + value);
  } else if (key == "-gcflags") {
    settings->gcflags = value;
  } else if (key == "-trimpath" || key == "-race" || key == "-msan" || key == "-asan") {
    if (value == "true") settings->flags.push_back(key);
    if (key == "-trimpath") settings->trimpath = value == "true";
  } else if (key == "-pgo") {
    if (!value.empty() && value != "off") settings->pgo_profile = value;
  }
  return Ok{};
}

}  // namespace

Result<GoBuildSettings> build_settings_of(const BuildInfo& info) {
  GoBuildSettings settings;
  auto release = info.release();
  if (!release || info.go_version.starts_with("devel"))
    return make_error("built by Go '{}', not a release whose toolchain can be fetched", info.go_version);
  settings.go_version = info.go_version;
  settings.pgo_flag_known = release->at_least(1, 20);
  if (Status environment = read_environment(info, &settings); !environment) return environment.error();
  for (const auto& [key, value] : info.settings) {
    if (Status flag = read_flag(key, value, &settings); !flag) return flag.error();
  }
  return settings;
}

std::optional<std::string_view> flags_for_package(std::string_view recorded, const PackageRef& package) {
  std::string_view value = trim(recorded);
  // -gcflags="" means no flags, for the command line's packages.
  if (value.empty()) return package.command_line ? std::optional<std::string_view>(value) : std::nullopt;
  if (value.front() == '-') return package.command_line ? std::optional<std::string_view>(value) : std::nullopt;
  size_t equals = value.find('=');
  if (equals == std::string_view::npos || equals == 0) return std::nullopt;  // the go command refuses these
  std::string_view pattern = trim(value.substr(0, equals));
  std::string_view flags = value.substr(equals + 1);
  bool relative = pattern == "." || pattern == ".." || pattern.starts_with("./") || pattern.starts_with("../");
  bool matches = relative ? relative_pattern_matches(pattern, package.module_dir)
                          : import_pattern_matches(pattern, package.import_path, /*standard=*/false);
  return matches ? std::optional<std::string_view>(flags) : std::nullopt;
}

bool import_pattern_matches(std::string_view pattern, std::string_view import_path, bool standard) {
  if (pattern == "all") return true;
  if (pattern == "std") return standard;
  if (pattern == "cmd") return standard && import_path.starts_with("cmd/");
  if (pattern == "work") return !standard;  // the main modules' packages (Go 1.23+)
  return wildcard_matches(pattern, import_path);
}

}  // namespace gotrace
