#include "userspace/explain/escape_analysis.h"

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>

#include "userspace/explain/escape_build.h"
#include "userspace/explain/escape_cache.h"
#include "userspace/explain/function_match.h"

namespace gotrace {
namespace {

namespace fs = std::filesystem;
using VerdictStatus = EscapeVerdict::Status;

// Where a site is in the module, once its outermost frame is known to be in it.
struct SitePlace {
  std::string module_file;  // relative to the module root
};

EscapeVerdict not_in_source(std::string reason) {
  EscapeVerdict verdict;
  verdict.status = VerdictStatus::kNotInSource;
  verdict.reason = std::move(reason);
  return verdict;
}

// Places each site, or answers it at once when it is not in the module.
std::vector<std::optional<SitePlace>> place_sites(std::span<const SiteLine> sites, const ModuleLayout& layout,
                                                  std::vector<EscapeVerdict>* verdicts) {
  std::vector<std::optional<SitePlace>> places;
  for (const SiteLine& site : sites) {
    places.emplace_back();
    verdicts->emplace_back();
    if (site.frames.empty()) {
      verdicts->back() = not_in_source("the site has no frames");
      continue;
    }
    const SiteFrame& outer = site.frames.back();
    auto relative = path_under(outer.file, layout.build_root);
    if (!relative) {
      verdicts->back() = not_in_source(fmt::format("{} is not in module {}", outer.file, layout.module_path));
      continue;
    }
    if (auto elsewhere = outside_main_module(layout, *relative)) {
      verdicts->back() = not_in_source(fmt::format("{} is {}", outer.file, *elsewhere));
      continue;
    }
    places.back() = SitePlace{*relative};
  }
  return places;
}

// The profile under DIR that the binary's recorded -pgo names.
Result<std::string> pgo_profile_in_source(const GoBuildSettings& settings, const ModuleLayout& layout) {
  if (!settings.pgo_profile) return std::string();
  if (auto relative = path_under(*settings.pgo_profile, layout.build_root)) return layout.source_root + "/" + *relative;
  std::error_code error;
  if (fs::is_regular_file(*settings.pgo_profile, error)) return *settings.pgo_profile;
  return make_error("the binary was built with the profile {} (-pgo), which is neither in the module nor here",
                    *settings.pgo_profile);
}

Result<std::string> cache_key(const GoBuildSettings& settings, const ModuleLayout& layout,
                              const std::vector<std::string>& package_dirs, const std::string& pgo_profile) {
  std::vector<std::string> parts{"gotrace escape analysis 1", settings.go_version, layout.module_path,
                                 layout.main_package_dir, settings.gcflags, settings.trimpath ? "trimpath" : "",
                                 pgo_profile};
  for (const auto& [name, value] : settings.environment) parts.push_back(name + "=" + value);
  parts.insert(parts.end(), settings.flags.begin(), settings.flags.end());
  parts.push_back("packages");
  parts.insert(parts.end(), package_dirs.begin(), package_dirs.end());
  parts.push_back("files");
  auto files = module_build_files(layout);
  if (!files) return files.error();
  for (const std::string& file : *files) {
    auto digest = file_digest(layout.source_root + "/" + file);
    if (!digest) return digest.error();
    parts.push_back(file);
    parts.push_back(*digest);
  }
  if (!pgo_profile.empty()) {
    auto digest = file_digest(pgo_profile);
    if (!digest) return digest.error();
    parts.push_back(*digest);
  }
  return content_digest(parts);
}

// The cached build, or a new one built and cached.
Result<EscapeBuild> cached_or_built(const EscapeBuildRequest& request, const std::string& cache_dir, bool* from_cache) {
  auto key = cache_key(*request.settings, *request.layout, request.package_dirs, request.pgo_profile);
  if (!key) return key.error();
  EscapeCache cache(cache_dir, *key);
  if (auto build = cache.load(request.layout->source_root)) {
    *from_cache = true;
    return std::move(*build);
  }
  std::error_code error;
  fs::remove_all(cache.entry_dir(), error);  // damaged, if there at all
  auto staging = cache.make_staging_dir();
  if (!staging) return staging.error();
  auto build = run_escape_build(request, *staging);
  if (!build) {
    fs::remove_all(*staging, error);
    return build.error();
  }
  std::string root = build->build_root;
  auto module_file = [&root](std::string_view file) { return path_under(file, root); };
  if (Status published = cache.publish(*staging, *build, module_file); !published) return published.error();
  cache.prune();
  auto stored = cache.load(request.layout->source_root);
  if (!stored) return make_error("the escape cache entry '{}' cannot be read back", cache.entry_dir());
  return std::move(*stored);
}

// Whether the positions an inlined diagnostic went through are the site's
// inner frames. Files of the module are compared by path; others (the
// standard library, from another GOROOT) by base name.
bool same_inlining(const CompilerDiagnostic& diagnostic, const SiteLine& site, const ModuleLayout& layout) {
  size_t inner = site.frames.size() - 1;
  if (diagnostic.inlined_at.size() != inner) return false;
  for (size_t i = 0; i < inner; ++i) {
    const SiteFrame& frame = site.frames[inner - 1 - i];
    const SourcePosition& position = diagnostic.inlined_at[i];
    if (position.line != frame.line) return false;
    if (auto relative = path_under(frame.file, layout.build_root)) {
      if (position.file != layout.source_root + "/" + *relative) return false;
    } else if (fs::path(position.file).filename() != fs::path(frame.file).filename()) {
      return false;
    }
  }
  return true;
}

EscapeVerdict answer(const SiteLine& site, const SitePlace& place, const EscapeBuild& build,
                     const ModuleLayout& layout, const std::string& mismatch) {
  EscapeVerdict verdict;
  verdict.source_file = layout.source_root + "/" + place.module_file;
  if (!mismatch.empty()) {
    verdict.status = VerdictStatus::kSourceMismatch;
    verdict.reason = mismatch;
    return verdict;
  }
  for (const auto& [file, by] : build.lost_logs) {
    if (file != place.module_file) continue;
    verdict.status = VerdictStatus::kLogLost;
    verdict.reason = fmt::format("the compiler's log of {} was overwritten by that of {}, a file of the same name",
                                 verdict.source_file, by);
    return verdict;
  }
  const SiteFrame& outer = site.frames.back();
  for (const CompilerDiagnostic& diagnostic : build.diagnostics) {
    if (diagnostic.position.file != verdict.source_file || diagnostic.position.line != outer.line ||
        !same_inlining(diagnostic, site, layout))
      continue;
    verdict.diagnostics.push_back({diagnostic.position.column, diagnostic.code, diagnostic.message, diagnostic.flow});
  }
  verdict.status = verdict.diagnostics.empty() ? VerdictStatus::kNothingAtLine : VerdictStatus::kFound;
  return verdict;
}

// Why the site's function in DIR is not the binary's; "" when it is.
std::string mismatch_of(const GoBinary& binary, const GoBinary& rebuilt, const EscapeBuild& build,
                        const ModuleLayout& layout, const SiteLine& site, const SitePlace& place) {
  const SiteFrame& outer = site.frames.back();
  auto functions = functions_named(binary, outer.function);
  std::string source_file = layout.source_root + "/" + place.module_file;
  if (functions.empty()) return fmt::format("no function {} in the binary", outer.function);
  ModuleFileName binary_files = [&](std::string_view file) { return path_under(file, layout.build_root); };
  ModuleFileName rebuilt_files = [&](std::string_view file) { return path_under(file, build.build_root); };
  for (const FunctionInfo& function : functions) {
    std::string why = compare_function(binary, function, binary_files, rebuilt, rebuilt_files);
    if (!why.empty())
      return fmt::format("{} in {} differs from the binary's (lines moved or code changed): {}", function.name,
                         source_file, why);
  }
  return "";
}

}  // namespace

SiteLine SiteLine::from_frames(const std::vector<Frame>& frames) {
  SiteLine site;
  for (const Frame& frame : frames)
    site.frames.push_back({std::string(frame.function), std::string(frame.file), static_cast<int>(frame.line)});
  return site;
}

std::string default_escape_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/gotrace/escape";
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && home[0] != '\0' ? home : "/tmp") + "/.cache/gotrace/escape";
}

Result<EscapeAnalysis> EscapeAnalysis::run(const GoBinary& binary, const std::string& source_dir,
                                           std::span<const SiteLine> sites, const EscapeOptions& options) {
  auto settings = build_settings_of(binary.build_info());
  if (!settings) return with_context(settings.error(), binary.name());
  auto layout = locate_module(binary, source_dir);
  if (!layout) return layout.error();
  EscapeAnalysis analysis;
  analysis.module_root_ = layout->source_root;
  auto places = place_sites(sites, *layout, &analysis.verdicts_);
  std::set<std::string> dirs;
  for (const auto& place : places)
    if (place) dirs.insert(std::string(directory_of(place->module_file)));
  if (dirs.empty()) return analysis;

  auto pgo_profile = pgo_profile_in_source(*settings, *layout);
  if (!pgo_profile) return pgo_profile.error();
  EscapeBuildRequest request{&*layout, &*settings, {dirs.begin(), dirs.end()}, *pgo_profile, options.go_command};
  std::string cache_dir = options.cache_dir.empty() ? default_escape_cache_dir() : options.cache_dir;
  auto build = cached_or_built(request, cache_dir, &analysis.from_cache_);
  if (!build) return build.error();
  auto rebuilt = GoBinary::open(build->binary_path);
  if (!rebuilt) return rebuilt.error();

  std::map<std::string, std::string> mismatch_by_function;
  for (size_t i = 0; i < sites.size(); ++i) {
    if (!places[i]) continue;
    const std::string& function = sites[i].frames.back().function;
    auto known = mismatch_by_function.find(function);
    if (known == mismatch_by_function.end()) {
      std::string mismatch = mismatch_of(binary, **rebuilt, *build, *layout, sites[i], *places[i]);
      known = mismatch_by_function.emplace(function, std::move(mismatch)).first;
    }
    analysis.verdicts_[i] = answer(sites[i], *places[i], *build, *layout, known->second);
  }
  return analysis;
}

}  // namespace gotrace
