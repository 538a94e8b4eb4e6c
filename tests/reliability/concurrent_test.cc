// Three gotraces on one target at once. The kernel runs every tracer's
// program at the one breakpoint it keeps per probed instruction: each
// gotrace must still count every allocation, and one tracer leaving (even by
// kill -9) must not take the others' probes with it.
#include <signal.h>

#include <gtest/gtest.h>

#include <memory>

#include <fmt/format.h>

#include "tests/reliability/reliability_support.h"
#include "tests/support/background_gotrace.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/leftovers.h"
#include "tests/support/scratch_file.h"
#include "tests/support/target_code.h"

namespace gotrace {
namespace {

using namespace testing;

constexpr int kFirstBurst = 20000;
constexpr int kSecondBurst = 30000;

TEST(Faults, ConcurrentGotracesEachCountEveryAllocation) {
  REQUIRE_BPF_PRIVILEGES();
  std::string binary = local_build("allocs", "plain");
  std::string untraced = untraced_checksum(binary);
  LeftoverCheck check;
  // Churning on one core: load beside the bursts, with CPU left for three
  // consumers on a small machine, so that none loses events.
  ChurnTarget target(binary, {"env", "GOMAXPROCS=1"});
  std::vector<uint64_t> sites = probe_file_offsets(target.pid());

  std::vector<std::unique_ptr<ScratchFile>> folded;
  std::vector<std::unique_ptr<BackgroundGotrace>> tracers;
  for (int i = 0; i < 3; ++i) {
    folded.push_back(std::make_unique<ScratchFile>(fmt::format("concurrent-{}.folded", i)));
    tracers.push_back(std::make_unique<BackgroundGotrace>(
        std::vector<std::string>{"attach", std::to_string(target.pid()), "--exact", "--no-tui", "--folded", folded[i]->path()}));
  }
  for (auto& tracer : tracers) ASSERT_TRUE(tracer->wait_attached()) << tracer->err();
  ASSERT_TRUE(target.burst(kFirstBurst));

  // The third leaves the hard way; the other two trace on.
  tracers[2]->signal(SIGKILL);
  EXPECT_EQ(tracers[2]->wait(), 128 + SIGKILL);
  expect_breakpoints_at(target.pid(), sites);
  ASSERT_TRUE(target.burst(kSecondBurst));

  for (int i = 0; i < 2; ++i) {
    tracers[i]->signal(SIGINT);
    ASSERT_EQ(tracers[i]->wait(), 0) << tracers[i]->err();
    SummaryCounts counts;
    ASSERT_TRUE(parse_summary(tracers[i]->err(), &counts)) << tracers[i]->err();
    EXPECT_EQ(counts.lost, 0u) << tracers[i]->err();
    EXPECT_EQ(folded_count_at(folded[i]->read(), "main.siteBurst"), uint64_t(kFirstBurst + kSecondBurst))
        << "gotrace " << i << ":\n"
        << folded[i]->read().substr(0, 3000);
  }
  EXPECT_TRUE(check.nothing_left({target.pid()}));

  EXPECT_TRUE(worked_as_untraced(target.finish(), untraced));
}

}  // namespace
}  // namespace gotrace
