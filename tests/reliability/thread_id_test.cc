// A thread id given where a pid is expected: `attach` and `info` resolve it
// to its process, say so in one line, and trace or show the process. The
// kernel filters probes and watches exits by thread, so tracing the thread
// id as such would see one thread's allocations, or fail.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;

// A thread of `pid` other than its leader; "" when it has none.
std::string other_thread(int pid) {
  for (const auto& entry : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid)))
    if (entry.path().filename() != std::to_string(pid)) return entry.path().filename().string();
  return "";
}

TEST(ThreadId, AttachTracesTheProcessOfTheThread) {
  REQUIRE_BPF_PRIVILEGES();
  ChildProcess target({local_build("allocs", "plain"), "steady"});
  target.read_until("steady");
  std::string thread = other_thread(target.pid());  // a Go program runs several threads from its start
  ASSERT_NE(thread, "");
  ScratchFile folded("thread.folded");
  auto result = run_gotrace({"attach", thread, "--exact", "-d", "1s", "--no-tui", "--folded", folded.path()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(result.err.starts_with(
      fmt::format("gotrace: {} is a thread of process {}; tracing the process\n", thread, target.pid())))
      << result.err;
  EXPECT_NE(result.err.find(fmt::format("gotrace: attached to pid {} (", target.pid())), std::string::npos)
      << result.err;
  // Allocations of every thread, not one: the goroutines of the steady
  // sites run on whichever thread the scheduler gives them.
  EXPECT_NE(folded.read().find(";main.siteSteadyA "), std::string::npos) << folded.read().substr(0, 2000);
  target.close_stdin();
  EXPECT_EQ(target.wait(), 0);
}

TEST(ThreadId, InfoShowsTheProcessOfTheThread) {
  REQUIRE_BPF_PRIVILEGES();  // info on a pid reads /proc/<pid>/exe
  ChildProcess target({local_build("allocs", "pie"), "steady"});
  target.read_until("steady");
  std::string thread = other_thread(target.pid());
  ASSERT_NE(thread, "");
  auto by_thread = run_gotrace({"info", thread});
  auto by_process = run_gotrace({"info", std::to_string(target.pid())});
  ASSERT_EQ(by_thread.exit_code, 0) << by_thread.err;
  EXPECT_EQ(by_thread.err,
            fmt::format("gotrace: {} is a thread of process {}; showing the process\n", thread, target.pid()));
  EXPECT_EQ(by_process.err, "");
  EXPECT_EQ(by_thread.out, by_process.out);  // the same pid line, binary and load bias
  EXPECT_NE(by_thread.out.find(fmt::format("pid:            {}\n", target.pid())), std::string::npos)
      << by_thread.out;
  target.close_stdin();
  EXPECT_EQ(target.wait(), 0);
}

}  // namespace
}  // namespace gotrace
