// Tracing refuses a binary with an allocation path it does not understand,
// whose allocations it would not count: one line that names the function and
// how it was found, and nothing on stdout. The binary is a fixture build with
// damaged code, the one the fixture tier's entry point tests search
// (tests/support/damaged_binary.h).
//
// These need root (or CAP_SYS_ADMIN). CI runs as
// root; a developer run without them skips with the reason printed.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "tests/support/damaged_binary.h"
#include "tests/support/gotrace_command.h"

namespace gotrace {
namespace {

using testing::EntryPointsNotUnderstood;
using testing::find_in_bytes;
using testing::gotrace_binary;
using testing::run_command;

TEST_F(EntryPointsNotUnderstood, TracingRefusesIt) {
  REQUIRE_BPF_PRIVILEGES();
  auto found = find_in_bytes(bytes_);
  ASSERT_TRUE(found && !found->unverified.empty());
  auto result = run_command({gotrace_binary(), "run", "--", path_});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, fmt::format("gotrace: error: '{}': allocation path not understood: runtime.mallocgcTinySC2 "
                                    "({}); its allocations would not be counted (--allow-unverified-go traces the "
                                    "rest anyway)\n",
                                    path_, found->unverified.front().how_found));
  EXPECT_EQ(result.out, "");
}

}  // namespace
}  // namespace gotrace
