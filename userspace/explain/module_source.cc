#include "userspace/explain/module_source.h"

#include <algorithm>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace gotrace {
namespace {

namespace fs = std::filesystem;

// How far below the source directory a module is looked for, and how many
// directories at most: enough for a checkout of several modules, bounded
// for a home directory named by mistake.
constexpr int kMaxSearchDepth = 6;
constexpr size_t kMaxSearchDirectories = 20000;
constexpr size_t kMaxGoModBytes = 1 << 20;
constexpr size_t kMaxModuleFiles = 200000;

// Directories the go command ignores, and vendor and testdata, which hold no
// module of the user's.
bool skipped_directory(const std::string& name) {
  return name.empty() || name[0] == '.' || name[0] == '_' || name == "vendor" || name == "testdata";
}

std::optional<std::string> read_small_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text(kMaxGoModBytes, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

bool declares_module(const fs::path& dir, const std::string& module_path) {
  std::error_code error;
  if (!fs::is_regular_file(dir / "go.mod", error)) return false;
  auto text = read_small_file(dir / "go.mod");
  if (!text) return false;
  auto declared = go_mod_module_path(*text);
  return declared && *declared == module_path;
}

Result<std::string> find_module_dir(const std::string& source_dir, const std::string& module_path) {
  std::error_code error;
  if (!fs::is_directory(source_dir, error)) return make_error("'{}': not a directory", source_dir);
  fs::path start = fs::absolute(source_dir, error).lexically_normal();
  // The directory named, when it is the module: searching on could only find copies.
  if (declares_module(start, module_path)) return start.string();
  std::deque<std::pair<fs::path, int>> queue{{start, 0}};
  std::vector<std::string> found;
  size_t visited = 0;
  while (!queue.empty() && visited < kMaxSearchDirectories) {
    auto [dir, depth] = queue.front();
    queue.pop_front();
    ++visited;
    if (depth > 0 && declares_module(dir, module_path)) {
      found.push_back(dir.string());
      continue;
    }
    if (depth == kMaxSearchDepth) continue;
    std::vector<fs::path> children;
    for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, error), end;
         !error && it != end; it.increment(error)) {
      std::error_code type_error;
      if (it->is_directory(type_error) && !it->is_symlink(type_error) && !skipped_directory(it->path().filename()))
        children.push_back(it->path());
    }
    std::sort(children.begin(), children.end());
    for (fs::path& child : children) queue.emplace_back(std::move(child), depth + 1);
  }
  if (found.size() > 1)
    return make_error("'{}': several copies of module {} ({} and {}): name the module's own directory", source_dir,
                      module_path, found[0], found[1]);
  if (found.empty())
    return make_error("'{}': no go.mod of module {} in it or below it (searched {} directories, {} deep)", source_dir,
                      module_path, visited, kMaxSearchDepth);
  return found[0];
}

// The module root as the binary's file names have it: main.main's directory
// less the main package's directory in the module.
Result<std::string> build_root_of(const GoBinary& binary, const std::string& main_package_dir) {
  auto main = binary.find_function("main.main");
  if (!main) return make_error("'{}': no main.main in the binary", binary.name());
  std::vector<Frame> frames;
  if (binary.symbolize(main->entry, false, &frames) != nullptr || frames.empty())
    return make_error("'{}': main.main has no source file in the binary", binary.name());
  std::string_view dir = directory_of(frames.back().file);
  if (main_package_dir.empty()) return std::string(dir);
  std::string suffix = "/" + main_package_dir;
  if (!dir.ends_with(suffix))
    return make_error("'{}': main.main is in {}, not in the main package's directory {}", binary.name(),
                      frames.back().file, main_package_dir);
  return std::string(dir.substr(0, dir.size() - suffix.size()));
}

bool build_file(const std::string& name) {
  static const char* const kSuffixes[] = {".go", ".s", ".S", ".c", ".h", ".cc", ".cpp", ".cxx", ".hh",
                                          ".hpp", ".m", ".f", ".F", ".for", ".f90", ".syso", ".pgo"};
  if (name == "go.mod" || name == "go.sum" || name == "modules.txt") return true;
  return std::any_of(std::begin(kSuffixes), std::end(kSuffixes),
                     [&](const char* suffix) { return name.ends_with(suffix); });
}

}  // namespace

std::optional<std::string> go_mod_module_path(std::string_view go_mod) {
  while (!go_mod.empty()) {
    size_t end = go_mod.find('\n');
    std::string_view line = go_mod.substr(0, end);
    go_mod.remove_prefix(end == std::string_view::npos ? go_mod.size() : end + 1);
    if (size_t comment = line.find("//"); comment != std::string_view::npos) line = line.substr(0, comment);
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) continue;
    line.remove_prefix(first);
    if (!line.starts_with("module") || line.size() == 6 || (line[6] != ' ' && line[6] != '\t')) continue;
    line.remove_prefix(6);
    size_t start = line.find_first_not_of(" \t");
    size_t stop = line.find_last_not_of(" \t\r");
    if (start == std::string_view::npos) return std::nullopt;
    line = line.substr(start, stop - start + 1);
    if (line.size() >= 2 && (line.front() == '"' || line.front() == '`') && line.back() == line.front())
      line = line.substr(1, line.size() - 2);
    if (line.empty()) return std::nullopt;
    return std::string(line);
  }
  return std::nullopt;
}

std::string_view directory_of(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

std::optional<std::string> path_under(std::string_view file, std::string_view root) {
  if (root.empty() || file.size() <= root.size() + 1 || !file.starts_with(root) || file[root.size()] != '/')
    return std::nullopt;
  return std::string(file.substr(root.size() + 1));
}

Result<ModuleLayout> locate_module(const GoBinary& binary, const std::string& source_dir) {
  const BuildInfo& info = binary.build_info();
  std::string_view main_module = info.main_module;
  std::string module_path(main_module.substr(0, main_module.find(' ')));
  if (module_path.empty() || info.main_path.empty() || info.main_path == "command-line-arguments")
    return make_error("'{}': the binary records no main module (built outside a module, or from files named on the "
                      "command line)", binary.name());
  ModuleLayout layout;
  layout.module_path = module_path;
  if (info.main_path != module_path) {
    auto dir = path_under(info.main_path, module_path);
    if (!dir)
      return make_error("'{}': main package {} is not in module {}", binary.name(), info.main_path, module_path);
    layout.main_package_dir = *dir;
  }
  auto build_root = build_root_of(binary, layout.main_package_dir);
  if (!build_root) return build_root.error();
  layout.build_root = std::move(*build_root);
  auto source_root = find_module_dir(source_dir, module_path);
  if (!source_root) return source_root.error();
  layout.source_root = std::move(*source_root);
  return layout;
}

std::optional<std::string> outside_main_module(const ModuleLayout& layout, std::string_view relative) {
  if (relative.starts_with("vendor/")) return fmt::format("vendored in {}", layout.module_path);
  // A module of its own named by path and version (-trimpath builds).
  if (relative.find('@') != std::string_view::npos) return fmt::format("in module {}/{}", layout.module_path, relative);
  std::error_code error;
  for (std::string_view dir = directory_of(relative); !dir.empty(); dir = directory_of(dir)) {
    if (fs::exists(fs::path(layout.source_root) / dir / "go.mod", error))
      return fmt::format("in the module of {}/{}/go.mod, not {}", layout.source_root, dir, layout.module_path);
  }
  return std::nullopt;
}

std::string package_import_path(const ModuleLayout& layout, std::string_view relative_dir) {
  if (relative_dir.empty()) return layout.module_path;
  return layout.module_path + "/" + std::string(relative_dir);
}

Result<std::vector<std::string>> module_build_files(const ModuleLayout& layout) {
  std::vector<std::string> files;
  std::error_code error;
  fs::path root(layout.source_root);
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, error), end;
  for (; !error && it != end; it.increment(error)) {
    std::string name = it->path().filename();
    std::error_code type_error;
    if (it->is_directory(type_error)) {
      bool nested_module = fs::exists(it->path() / "go.mod", type_error);
      if ((skipped_directory(name) && name != "vendor") || nested_module || it->is_symlink(type_error))
        it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(type_error) || !build_file(name)) continue;
    if (files.size() == kMaxModuleFiles)
      return make_error("'{}': more than {} source files in the module", layout.source_root, kMaxModuleFiles);
    files.push_back(it->path().lexically_relative(root).string());
  }
  if (error) return make_error("'{}': cannot list the module's files: {}", layout.source_root, error.message());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace gotrace
