// The go build that compiles a binary's packages again as they were built:
// the build settings the go command recorded in the binary (`go version -m`),
// turned back into flags and environment.
//
// Kept: -buildmode, -tags, -trimpath, -race, -msan, -asan, -gcflags,
// -asmflags, -pgo, CGO_ENABLED and the CGO_*FLAGS, GOOS, GOARCH, GOAMD64 and
// GOEXPERIMENT: what decides which files are compiled and how. Left out:
// -ldflags (the linker's, which change no compiled code and may need a C
// linker the machine lacks) and DefaultGODEBUG (go.mod decides it).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "symbolizer/build_info.h"

namespace gotrace {

struct GoBuildSettings {
  std::string go_version;  // the binary's release, e.g. "go1.21.13": the toolchain to build with
  std::vector<std::pair<std::string, std::string>> environment;
  std::vector<std::string> flags;  // go build flags, -pgo excepted
  std::string gcflags;             // the recorded -gcflags value, "" when none
  bool trimpath = false;
  // The recorded -pgo profile, a path on the build machine; nullopt when the
  // build used none (it is then turned off, from Go 1.20 on, where a
  // default.pgo would otherwise be picked up).
  std::optional<std::string> pgo_profile;
  bool pgo_flag_known = false;  // whether this release's go build has -pgo (1.20+)
};

// Fails, naming the setting, for a build the go command cannot repeat here:
// another compiler, OS or architecture, a build mode without an executable,
// or a development release.
Result<GoBuildSettings> build_settings_of(const BuildInfo& info);

// A package as per-package flag patterns see it.
struct PackageRef {
  std::string import_path;  // "main"'s real path, e.g. "example.com/m/cmd/tool"
  std::string module_dir;   // its directory relative to the module root ("" for the root), '/'-separated
  bool command_line = false;  // named on the command line: the main package
};

// The compiler flags a recorded -gcflags (or -asmflags) value gives
// `package`, as go build decides them: a value with a pattern
// ("all=-N -l", "example.com/m/...=-m") applies to the packages it matches,
// one without ("-N -l") to the command line's; nullopt when it does not
// apply. Relative patterns ("./...") are taken from the module root.
std::optional<std::string_view> flags_for_package(std::string_view recorded, const PackageRef& package);

// Whether an import path pattern of the go command ("std", "all",
// "example.com/m/...", "example.com/.../util") matches `import_path`.
bool import_pattern_matches(std::string_view pattern, std::string_view import_path, bool standard);

}  // namespace gotrace
