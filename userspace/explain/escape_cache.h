// What one compile of a module for escape analysis leaves for the next run:
// the escape diagnostics of the packages compiled, and the main package's
// binary from the same go build (for telling source that does not match).
//
// An entry is a directory <cache>/<key>/ holding diagnostics.json and the
// binary `build`, published by renaming a complete temporary directory, so
// that a reader never sees half an entry. Reading an entry marks it used;
// the least recently used go when there are too many. The key is a hash of everything
// the compile depends on: the release, the build settings, the packages
// asked about, and the names and contents of the module's source files.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "userspace/explain/compiler_log.h"

namespace gotrace {

struct EscapeBuild {
  // Escape diagnostics (is_escape_code) of the packages compiled. Files of
  // the module are named by their path under the source's module root;
  // other files as the compiler named them.
  std::vector<CompilerDiagnostic> diagnostics;
  // The binary the same go build linked, and the module root as its file
  // names start (the module directory then, or the module path with -trimpath).
  std::string binary_path;
  std::string build_root;
  // Module files whose compiler log was lost, each with the file whose log
  // took its place: the compiler names a package's logs by the source file's
  // base name alone, so a file of another directory with the same name (a
  // generic function of the standard library instantiated in the package)
  // overwrites them.
  std::vector<std::pair<std::string, std::string>> lost_logs;
};

// A file's path relative to the module root, or nullopt outside the module.
using ModuleRelative = std::function<std::optional<std::string>(std::string_view file)>;

// A hex digest of `parts` (128-bit FNV-1a: a cache key, not a defence).
std::string content_digest(const std::vector<std::string>& parts);
// The digest of a file's bytes; an error when it cannot be read.
Result<std::string> file_digest(const std::string& path);

class EscapeCache {
 public:
  EscapeCache(std::string dir, std::string key) : dir_(std::move(dir)), key_(std::move(key)) {}

  std::string entry_dir() const { return dir_ + "/" + key_; }
  // The entry, its module files under `source_root`; nullopt when there is
  // none, or it is damaged (it is built again then).
  std::optional<EscapeBuild> load(const std::string& source_root) const;
  // A fresh directory beside the entries to build one in.
  Result<std::string> make_staging_dir() const;
  // Writes `build`'s diagnostics, module files made relative by
  // `module_file`, into `staging` (which holds the binary as "build") and
  // publishes it as the entry. When another run published the same key
  // first, its entry stays: it is the same.
  Status publish(const std::string& staging, const EscapeBuild& build, const ModuleRelative& module_file) const;
  // Removes the entries used least recently beyond the newest kMaxEntries
  // (each holds a binary), and staging directories left by runs that died;
  // nothing else in the directory, nor any link.
  void prune() const;

  static constexpr size_t kMaxEntries = 32;

 private:
  std::string dir_;
  std::string key_;
};

}  // namespace gotrace
