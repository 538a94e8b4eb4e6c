// kill -9 of gotrace at random moments, most of them in its start-up: before
// it loads its probe, while it attaches the uprobes, just after. Nothing can
// clean up after a SIGKILL but the kernel, so this checks that gotrace holds
// everything through descriptors: after each kill no BPF object of gotrace's
// is left, the target's code equals its file, and the target runs on; at the
// end its work comes out as it does untraced.
#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "tests/reliability/reliability_support.h"
#include "tests/support/background_gotrace.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/leftovers.h"

namespace gotrace {
namespace {

using namespace testing;
using std::chrono::microseconds;
using std::chrono::steady_clock;

constexpr auto kKillingTime = std::chrono::seconds(35);

TEST(Faults, KillNineAtRandomMomentsLeavesNothingAndHarmsNothing) {
  REQUIRE_BPF_PRIVILEGES();
  // The build with size-specialized allocator entry points: gotrace attaches
  // many probes one after the other, and a kill falls among them more often.
  std::string binary = local_build("allocs", "exp-sizespecializedmalloc");
  std::string untraced = untraced_checksum(binary);
  ASSERT_NE(untraced, "");
  LeftoverCheck check;
  ChurnTarget target(binary);
  microseconds to_attach = time_to_attach(target.pid());
  ASSERT_FALSE(::testing::Test::HasFailure());

  SeededSchedule schedule;
  SCOPED_TRACE(schedule.describe());
  int kills = 0, after_attach = 0;
  auto start = steady_clock::now();
  while (steady_clock::now() - start < time_budget(kKillingTime)) {
    // A third of the moments in gotrace's first 30 ms (its start, the plan of
    // the probes), the rest anywhere to half as long again as it takes to
    // have the probes live (loading the probe into the kernel takes most of that).
    int64_t until = kills % 3 == 0 ? 30000 : to_attach.count() * 3 / 2;
    microseconds delay(schedule.uniform(0, until));
    SCOPED_TRACE(fmt::format("kill {}: SIGKILL {} µs after the start (probes live after about {} µs)", kills,
                             delay.count(), to_attach.count()));
    // --exact: the overhead guard would end the trace of this churning
    // program by itself, before the kill.
    BackgroundGotrace tracer({"attach", std::to_string(target.pid()), "--no-tui", "--exact"});
    std::this_thread::sleep_until(tracer.started() + delay);
    tracer.signal(SIGKILL);
    ASSERT_EQ(tracer.wait(), 128 + SIGKILL) << "gotrace ended before the kill: " << tracer.err();
    after_attach += tracer.said_attached();
    ASSERT_TRUE(check.nothing_left({target.pid()}));
    ASSERT_TRUE(target.running());
    ++kills;
  }
  double seconds = std::chrono::duration<double>(steady_clock::now() - start).count();
  std::cout << fmt::format("[ figures  ] {} kill -9 in {:.1f} s: {} before the probes were live (start-up), {} after; "
                           "start to live probes {:.1f} ms\n",
                           kills, seconds, kills - after_attach, after_attach, to_attach.count() / 1000.0);
  ::testing::Test::RecordProperty("kills", kills);
  EXPECT_GT(kills - after_attach, 0) << "no kill fell in the start-up";

  EXPECT_TRUE(worked_as_untraced(target.finish(), untraced));
}

}  // namespace
}  // namespace gotrace
