#include "userspace/explain/escape_build.h"

#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "userspace/explain/go_command.h"

namespace gotrace {
namespace {

namespace fs = std::filesystem;

// A compiler log bigger than this is not one: refuse rather than read it.
constexpr uintmax_t kMaxLogBytes = 256 << 20;

// The directory for the compiler's logs: its path goes into a flag as a
// file:// URI, so it is made only of characters that need no escaping.
Result<std::string> make_log_dir() {
  std::error_code error;
  std::string base = fs::temp_directory_path(error).string();
  bool plain = !error && std::all_of(base.begin(), base.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '_' || c == '-';
  });
  std::string pattern = (plain ? base : std::string("/tmp")) + "/gotrace-escape-log-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr)
    return make_error("cannot create a directory for the compiler's logs: {}", std::strerror(errno));
  return pattern;
}

// Removes the log directory however the build went.
class RemovedAtExit {
 public:
  explicit RemovedAtExit(std::string path) : path_(std::move(path)) {}
  ~RemovedAtExit() {
    std::error_code error;
    fs::remove_all(path_, error);
  }

 private:
  std::string path_;
};

std::vector<std::pair<std::string, std::optional<std::string>>> build_environment(const GoBuildSettings& settings,
                                                                                  const std::string& directory) {
  std::vector<std::pair<std::string, std::optional<std::string>>> env{
      {"GOTOOLCHAIN", settings.go_version}, {"GOWORK", "off"}, {"GOROOT", std::nullopt}, {"PWD", directory}};
  // No VCS stamping, and none of the caller's own GOFLAGS; -buildvcs is 1.18+.
  auto release = parse_go_version(settings.go_version);
  bool knows_buildvcs = release && release->at_least(1, 18);
  env.emplace_back("GOFLAGS", knows_buildvcs ? std::optional<std::string>("-buildvcs=false") : std::nullopt);
  for (const auto& [name, value] : settings.environment) env.emplace_back(name, value);
  return env;
}

// Checks that the go command runs the binary's release (fetching it first
// if need be): an older go command ignores GOTOOLCHAIN.
Status check_release(const EscapeBuildRequest& request, const std::string& directory) {
  GoCommandRun run{{"version"}, directory, build_environment(*request.settings, directory)};
  auto result = run_go(request.go_command, run);
  if (!result) return result.error();
  const std::string& want = request.settings->go_version;
  if (result->exit_code != 0)
    return make_error("cannot get Go {} (the binary's release): {}", want, first_error_line(result->output));
  // "go version go1.21.13 linux/amd64", after any "go: downloading" lines.
  std::string got;
  std::istringstream lines(result->output);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("go version ")) continue;
    got = line.substr(11, line.find(' ', 11) - 11);
    break;
  }
  if (got != want)
    return make_error("'{}' runs {}, not the binary's {} (fetching a release needs Go 1.21 or later)",
                      request.go_command, got.empty() ? "an unknown Go" : got, want);
  return Ok{};
}

// url.PathEscape, as the compiler names its log files.
std::string path_escape(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || (c != 0 && std::strchr("-_.~$&+:=@", c) != nullptr)) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string log_name_of(std::string_view file) {
  std::string_view base = file.substr(file.rfind('/') + 1);
  if (size_t dot = base.rfind(".go"); dot != std::string_view::npos) base = base.substr(0, dot);
  return path_escape(base) + ".json";
}

struct ParsedLogs {
  std::vector<CompilerDiagnostic> diagnostics;
  std::map<std::string, std::string> file_of_log;  // "<package dir>/<log name>" → the file it is the log of
};

Result<ParsedLogs> read_logs(const std::string& log_dir) {
  ParsedLogs logs;
  std::error_code error;
  for (fs::recursive_directory_iterator it(log_dir, error), end; !error && it != end; it.increment(error)) {
    std::error_code size_error;
    if (!it->is_regular_file(size_error) || it->path().extension() != ".json") continue;
    if (it->file_size(size_error) > kMaxLogBytes)
      return make_error("'{}': too big for a compiler log", it->path().string());
    std::ifstream in(it->path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    auto log = parse_compiler_log(text.str(), it->path().string());
    if (!log) return log.error();
    logs.file_of_log[it->path().lexically_relative(log_dir).string()] = log->file;
    for (CompilerDiagnostic& diagnostic : log->diagnostics) {
      // The compiler adds an unexplained "escape" for each explained one.
      if (is_escape_code(diagnostic.code) && !diagnostic.message.empty())
        logs.diagnostics.push_back(std::move(diagnostic));
    }
  }
  if (error) return make_error("'{}': cannot read the compiler's logs: {}", log_dir, error.message());
  return logs;
}

// The Go files of the packages asked about whose log another file's took.
std::vector<std::pair<std::string, std::string>> lost_logs(const EscapeBuildRequest& request, const ParsedLogs& logs,
                                                           const std::string& compiled_root) {
  std::vector<std::pair<std::string, std::string>> lost;
  const ModuleLayout& layout = *request.layout;
  for (const std::string& dir : request.package_dirs) {
    std::string package = dir == layout.main_package_dir ? "main" : package_import_path(layout, dir);
    std::error_code error;
    for (fs::directory_iterator it(fs::path(layout.source_root) / dir, error), end; !error && it != end;
         it.increment(error)) {
      std::string name = it->path().filename();
      if (!name.ends_with(".go")) continue;
      std::string relative = dir.empty() ? name : dir + "/" + name;
      auto log = logs.file_of_log.find(path_escape(package) + "/" + log_name_of(name));
      if (log != logs.file_of_log.end() && log->second != compiled_root + "/" + relative)
        lost.emplace_back(relative, log->second);
    }
  }
  return lost;
}

// The go build arguments of `request`, the logs written to `log_dir`, the
// binary to `output`.
std::vector<std::string> escape_build_arguments(const EscapeBuildRequest& request, const std::string& log_dir,
                                                const std::string& output) {
  const GoBuildSettings& settings = *request.settings;
  const ModuleLayout& layout = *request.layout;
  std::vector<std::string> args{"build", "-o", output};
  args.insert(args.end(), settings.flags.begin(), settings.flags.end());
  if (!request.pgo_profile.empty()) {
    args.push_back("-pgo=" + request.pgo_profile);
  } else if (settings.pgo_flag_known) {
    args.push_back("-pgo=off");
  }
  if (!settings.gcflags.empty()) args.push_back("-gcflags=" + settings.gcflags);
  // Per-package flags do not add up: the last pattern matching a package
  // gives all its flags, so each logged package gets the recorded ones too.
  for (const std::string& dir : request.package_dirs) {
    PackageRef package{package_import_path(layout, dir), dir, dir == layout.main_package_dir};
    std::string recorded(flags_for_package(settings.gcflags, package).value_or(""));
    args.push_back(fmt::format("-gcflags={}={}{}-json=0,file://{}", package.import_path, recorded,
                               recorded.empty() ? "" : " ", log_dir));
  }
  args.push_back(layout.main_package_dir.empty() ? "." : "./" + layout.main_package_dir);
  return args;
}

}  // namespace

Result<EscapeBuild> run_escape_build(const EscapeBuildRequest& request, const std::string& staging) {
  const ModuleLayout& layout = *request.layout;
  if (Status release = check_release(request, staging); !release) return release.error();
  auto log_dir = make_log_dir();
  if (!log_dir) return log_dir.error();
  RemovedAtExit remove_logs(*log_dir);
  EscapeBuild build;
  build.binary_path = staging + "/build";
  // Under -trimpath the compiler names the module's files "<module path>/<file>".
  build.build_root = request.settings->trimpath ? layout.module_path : layout.source_root;
  GoCommandRun run{escape_build_arguments(request, *log_dir, build.binary_path), layout.source_root,
                   build_environment(*request.settings, layout.source_root)};
  auto result = run_go(request.go_command, run);
  if (!result) return result.error();
  if (result->exit_code != 0)
    return make_error("go build of {} in '{}' with {} failed: {}", layout.module_path, layout.source_root,
                      request.settings->go_version, first_error_line(result->output));
  auto logs = read_logs(*log_dir);
  if (!logs) return logs.error();
  build.lost_logs = lost_logs(request, *logs, build.build_root);
  build.diagnostics = std::move(logs->diagnostics);
  return build;
}

}  // namespace gotrace
