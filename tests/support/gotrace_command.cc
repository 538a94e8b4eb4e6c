#include "tests/support/gotrace_command.h"

#include <cstdlib>

namespace gotrace::testing {

std::string gotrace_binary() {
  const char* path = std::getenv("GOTRACE_BINARY");
  return path != nullptr ? path : GOTRACE_TEST_BINARY;
}

CommandResult run_gotrace(std::vector<std::string> args) {
  args.insert(args.begin(), gotrace_binary());
  return run_command(args);
}

void expect_one_line_error(const CommandResult& result, int exit_code, const std::string& message) {
  EXPECT_EQ(result.exit_code, exit_code) << result.err;
  EXPECT_EQ(result.err, "gotrace: error: " + message + "\n");
  EXPECT_EQ(result.out, "");
}

}  // namespace gotrace::testing
