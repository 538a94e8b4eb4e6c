// Attach and detach, again and again, on a target allocating flat out on
// every core: every cycle's probes are live while attached (the target's
// code shows their breakpoints) and gone after (its code equals the file,
// no BPF object of gotrace's is left), and the target's work comes out as
// it does untraced.
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
#include "tests/support/target_code.h"

namespace gotrace {
namespace {

using namespace testing;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// As many cycles as fit in this time.
constexpr auto kCyclingTime = std::chrono::seconds(60);

// One cycle: attach, trace a little while, detach by the means `how`
// chooses (SIGINT, SIGTERM or the duration running out).
void attach_and_detach(pid_t target, const std::vector<uint64_t>& sites, int how, milliseconds traced) {
  std::vector<std::string> args{"attach", std::to_string(target), "--no-tui"};
  if (how == 2) args.insert(args.end(), {"-d", fmt::format("{}ms", traced.count())});
  BackgroundGotrace tracer(args);
  ASSERT_TRUE(tracer.wait_attached()) << tracer.err();
  // The duration runs from the announcement: gotrace is held still while
  // its probes are looked at, or it might detach in the meantime.
  if (how == 2) tracer.signal(SIGSTOP);
  expect_breakpoints_at(target, sites);
  if (how == 2) tracer.signal(SIGCONT);
  if (how != 2) {
    std::this_thread::sleep_for(traced);
    tracer.signal(how == 0 ? SIGINT : SIGTERM);
  }
  ASSERT_EQ(tracer.wait(), 0) << tracer.err();
  SummaryCounts counts;
  ASSERT_TRUE(parse_summary(tracer.err(), &counts)) << tracer.err();
  EXPECT_GT(counts.allocations, 0u) << tracer.err();
}

TEST(Faults, AttachDetachCyclesUnderLoadLeaveTheTargetsWorkIntact) {
  REQUIRE_BPF_PRIVILEGES();
  // One probe, so that a cycle is quick: each uprobe takes the kernel 70 to
  // 300 ms to remove (the kill test has the build with many).
  std::string binary = local_build("allocs", "pie");
  std::string untraced = untraced_checksum(binary);
  ASSERT_NE(untraced, "");
  LeftoverCheck check;
  ChurnTarget target(binary);
  std::vector<uint64_t> sites = probe_file_offsets(target.pid());
  ASSERT_FALSE(sites.empty());

  SeededSchedule schedule;
  SCOPED_TRACE(schedule.describe());
  int cycles = 0;
  auto start = steady_clock::now();
  while (steady_clock::now() - start < time_budget(kCyclingTime)) {
    int how = cycles % 3;
    // A duration of at least 50 ms leaves the test time to stop gotrace
    // before it ends.
    milliseconds traced(schedule.uniform(how == 2 ? 50 : 1, 200));
    SCOPED_TRACE(fmt::format("cycle {}: detached by {} after {} ms", cycles,
                             how == 0 ? "SIGINT" : how == 1 ? "SIGTERM" : "-d", traced.count()));
    attach_and_detach(target.pid(), sites, how, traced);
    if (::testing::Test::HasFatalFailure()) return;
    ASSERT_TRUE(check.nothing_left({target.pid()}));
    ASSERT_TRUE(target.running());
    ++cycles;
  }
  double seconds = std::chrono::duration<double>(steady_clock::now() - start).count();
  std::cout << fmt::format("[ figures  ] {} attach/detach cycles in {:.1f} s, {} probe site{} each\n", cycles,
                           seconds, sites.size(), sites.size() == 1 ? "" : "s");
  ::testing::Test::RecordProperty("cycles", cycles);

  ChurnResult result = target.finish();
  ASSERT_TRUE(worked_as_untraced(result, untraced));
  EXPECT_GT(result.checksums.begin()->second, cycles / 10) << "the target hardly worked meanwhile";
}

}  // namespace
}  // namespace gotrace
