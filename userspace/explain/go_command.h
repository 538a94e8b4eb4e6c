// Running the go command: found on PATH (or named), in a directory of the
// caller's choosing, with variables added to or removed from gotrace's own
// environment, its stdout and stderr kept together.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace gotrace {

struct GoCommandRun {
  std::vector<std::string> arguments;  // after the go command itself
  std::string directory;
  // NAME=VALUE replaces NAME's value; a name with nullopt is removed.
  std::vector<std::pair<std::string, std::optional<std::string>>> environment;
};

struct GoCommandOutput {
  int exit_code = 0;   // 128+N when signal N ended it
  std::string output;  // stdout and stderr, as they came (the first MiBs)
};

// `go_command` is a path, or a name looked up on PATH ("go"). Fails when it
// cannot be found or started; a go that runs and fails is an exit code.
Result<GoCommandOutput> run_go(const std::string& go_command, const GoCommandRun& run);

// The first line of the go command's output that says what went wrong:
// the compiler's first error ("./x.go:3:2: undefined: y"), or its own.
std::string first_error_line(const std::string& output);

}  // namespace gotrace
