// The one go build of escape analysis: the binary's main package compiled
// again from the module under DIR by the binary's release, with its recorded
// settings, the compiler's optimization log on for the packages asked about,
// and linked to a binary of its own for comparison.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "userspace/explain/escape_cache.h"
#include "userspace/explain/go_build_flags.h"
#include "userspace/explain/module_source.h"

namespace gotrace {

struct EscapeBuildRequest {
  const ModuleLayout* layout = nullptr;
  const GoBuildSettings* settings = nullptr;
  std::vector<std::string> package_dirs;  // module-relative directories of the packages to log, sorted
  std::string pgo_profile;                // the profile under DIR to build with, "" for none
  std::string go_command;
};

// Builds into `staging` (the binary as staging/build) and returns the escape
// diagnostics. Fails with one line: no go command, a release the go command
// cannot fetch, or a build that fails (with the compiler's first error).
Result<EscapeBuild> run_escape_build(const EscapeBuildRequest& request, const std::string& staging);

}  // namespace gotrace
