// The source a Go binary was built from: its main module found under a
// directory the user names, and the binary's file names mapped to files in it.
//
// Without -trimpath the pclntab names files by their absolute path on the
// build machine; with it, by "<module path>/<path in the module>" (or
// "<module path>@<version>/..." for a module built from the module cache).
// Either way the module root as the binary names it is the directory of
// main.main's file less the main package's path within the module.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "symbolizer/go_binary.h"

namespace gotrace {

struct ModuleLayout {
  std::string module_path;       // e.g. "example.com/m"
  std::string source_root;       // the module's directory under the source directory, absolute
  std::string build_root;        // the module root as the binary's file names start
  std::string main_package_dir;  // the main package's directory in the module ("" for the root)
};

// Finds the main module of `binary` under `source_dir` (the module root or a
// directory above it, searched breadth first to a bounded depth, leaving out
// vendor, testdata and hidden directories). Fails with one line naming what
// is missing: the binary's module information, main.main, or the module.
Result<ModuleLayout> locate_module(const GoBinary& binary, const std::string& source_dir);

// The `module` path a go.mod declares; nullopt when it declares none.
std::optional<std::string> go_mod_module_path(std::string_view go_mod);

// `file` relative to `root` ('/'-separated), when it is under it.
std::optional<std::string> path_under(std::string_view file, std::string_view root);

// Where a file of the module, `relative` to its root, belongs: nullopt when
// it is in the module's own packages; else why not (vendored, or in a module
// of its own nested in the directory).
std::optional<std::string> outside_main_module(const ModuleLayout& layout, std::string_view relative);

// The import path of the package in directory `relative_dir` of the module.
std::string package_import_path(const ModuleLayout& layout, std::string_view relative_dir);

// The directory part of a '/'-separated path ("" for a file at the top).
std::string_view directory_of(std::string_view path);

// The module's files that decide what the compiler makes of it (Go, assembly
// and C sources, go.mod, go.sum, vendor/modules.txt, PGO profiles), relative
// to its root and sorted; nested modules, testdata and hidden directories are
// left out.
Result<std::vector<std::string>> module_build_files(const ModuleLayout& layout);

}  // namespace gotrace
