// attach holds the target's executable open from planning its probes to
// attaching them (userspace/process/target_process.h): an exec in that
// window is seen, and the probes can only go on the file that was planned.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "tests/support/child_process.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/scratch_file.h"
#include "userspace/process/target_process.h"

namespace gotrace {
namespace {

using testing::ChildProcess;
using testing::local_build;
using testing::read_file;

TEST(PinnedExecutable, AnExecAfterPlanningIsSeenAndThePinnedFileIsStillThePlannedOne) {
  std::string first = local_build("allocs", "plain"), next = local_build("allocs", "pie");
  ChildProcess target({first, "exec-on-signal", "1", next, "steady"});
  target.read_until("ready");
  auto process = inspect_process(target.pid());
  ASSERT_TRUE(process) << process.error().message;
  auto pinned = pin_executable(*process);
  ASSERT_TRUE(pinned) << pinned.error().message;
  EXPECT_TRUE(check_still_runs(target.pid(), *pinned));

  ASSERT_EQ(kill(target.pid(), SIGUSR1), 0);
  target.read_until("steady");
  auto after = check_still_runs(target.pid(), *pinned);
  ASSERT_FALSE(after) << "the exec was not seen";
  std::string now = std::filesystem::canonical(next).string();
  EXPECT_EQ(after.error().message,
            fmt::format("pid {} exec'd another program ({}) while gotrace attached; nothing was traced (gotrace "
                        "attach {} traces the new program)",
                        target.pid(), now, target.pid()));
  // What the probes would be put on is still the program planned for.
  EXPECT_EQ(read_file(pinned->path), read_file(first));
  target.close_stdin();
  EXPECT_EQ(target.wait(), 0);
}

}  // namespace
}  // namespace gotrace
