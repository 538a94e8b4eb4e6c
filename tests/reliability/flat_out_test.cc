// Allocation flat out on every core, traced from the first instruction
// (`gotrace run`), with gotrace stopped for a while (SIGSTOP, as a debugger
// or a frozen cgroup would) so that its ring buffer overflows. Every loss
// must be counted: what gotrace recorded plus what it says it lost is what
// the runtime itself counted, and the program's work is unharmed.
#include <signal.h>

#include <gtest/gtest.h>

#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "tests/reliability/reliability_support.h"
#include "tests/support/background_gotrace.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/leftovers.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;
using std::chrono::steady_clock;

constexpr int kRounds = 14;
// gotrace is stopped from the first round's end to this round's: 640,000
// allocations, where the ring buffer holds at most 350,000 (16 MiB of
// records of 48 bytes or more).
constexpr int kResumedAfterRound = 7;
// Allocations the program makes after it reads the runtime's count (its
// last lines of output), which gotrace sees and the count does not.
constexpr uint64_t kAfterTheCount = 64;

// Whether the program's output has `line` yet; waits up to a minute.
bool wait_for_line(const BackgroundGotrace& tracer, const std::string& line) {
  auto deadline = steady_clock::now() + std::chrono::seconds(60);
  while (tracer.out().find(line + "\n") == std::string::npos) {
    if (steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Runs the churn fixture under `gotrace run` with `options`, stopping
// gotrace from the end of the first round to kResumedAfterRound's; returns
// gotrace's stderr and fills `result` with what the program printed.
std::string run_stopped_for_a_while(const std::string& binary, std::vector<std::string> options, ChurnResult* result,
                                    std::chrono::milliseconds* stopped_for) {
  std::vector<std::string> args{"run"};
  args.insert(args.end(), options.begin(), options.end());
  args.insert(args.end(), {"--", binary, "churn", std::to_string(kRounds)});
  BackgroundGotrace tracer(args);
  EXPECT_TRUE(wait_for_line(tracer, "churn")) << tracer.out();
  tracer.signal(SIGSTOP);
  auto stopped = steady_clock::now();
  EXPECT_TRUE(wait_for_line(tracer, fmt::format("round {}", kResumedAfterRound))) << tracer.out();
  tracer.signal(SIGCONT);
  *stopped_for = std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - stopped);
  int status = tracer.wait();
  *result = parse_churn_output(status, tracer.out());
  return tracer.err();
}

TEST(Faults, FlatOutOnEveryCoreEveryLossIsCounted) {
  REQUIRE_BPF_PRIVILEGES();
  std::string binary = local_build("allocs", "plain");
  std::string untraced = untraced_checksum(binary);
  LeftoverCheck check;
  ScratchFile folded("flat-out.folded");
  ChurnResult result;
  std::chrono::milliseconds stopped_for;
  std::string err = run_stopped_for_a_while(binary, {"--folded", folded.path()}, &result, &stopped_for);
  ASSERT_TRUE(worked_as_untraced(result, untraced)) << err;
  EXPECT_EQ(result.checksums.begin()->second, kRounds);

  SummaryCounts counts;
  ASSERT_TRUE(parse_summary(err, &counts)) << err;
  EXPECT_GT(counts.lost, 0u) << "the ring buffer did not overflow while gotrace was stopped: " << err;
  // Recorded and lost, every allocation the runtime counted.
  EXPECT_GE(counts.allocations + counts.lost, result.mallocs) << err << result.output;
  EXPECT_LE(counts.allocations + counts.lost, result.mallocs + kAfterTheCount) << err << result.output;
  // And what it recorded is what it wrote.
  EXPECT_EQ(folded_total(folded.read()), counts.allocations);
  std::cout << fmt::format("[ figures  ] flat out on every core, gotrace stopped {} ms: {} allocations by the "
                           "runtime's count, {} recorded, {} counted lost\n",
                           stopped_for.count(), result.mallocs, counts.allocations, counts.lost);
  EXPECT_TRUE(check.nothing_left({}));
}

TEST(Faults, FlatOutOnEveryCoreTheKernelCountsEveryAllocationWhenSampling) {
  REQUIRE_BPF_PRIVILEGES();
  std::string binary = local_build("allocs", "plain");
  ChurnResult result;
  std::chrono::milliseconds stopped_for;
  std::string err = run_stopped_for_a_while(binary, {"--sample-rate", "4096"}, &result, &stopped_for);
  ASSERT_EQ(result.exit_code, 0) << err << result.output;
  SummaryCounts counts;
  ASSERT_TRUE(parse_summary(err, &counts)) << err;
  // Counted in the kernel whatever the ring buffer holds.
  EXPECT_GE(counts.kernel_allocations, result.mallocs) << err << result.output;
  EXPECT_LE(counts.kernel_allocations, result.mallocs + kAfterTheCount) << err << result.output;
}

}  // namespace
}  // namespace gotrace
