// Allocation flat out on every core, traced from the first instruction
// (`gotrace run`), with gotrace stopped for a while (SIGSTOP, as a debugger
// or a frozen cgroup would) so that its ring buffer overflows. Every loss
// must be counted: what gotrace recorded plus what it says it lost is what
// the runtime itself counted, and the program's work is unharmed. And a
// gotrace that gets a small share of the CPU, on a host its targets keep
// busy, still ends when its duration is up.
#include <signal.h>
#include <sys/resource.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "tests/reliability/reliability_support.h"
#include "tests/support/background_gotrace.h"
#include "tests/support/child_process.h"
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

// Every thread of `pid` at `nice` (a thread's nice value is its own).
void renice_threads(pid_t pid, int nice) {
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid), error))
    setpriority(PRIO_PROCESS, id_t(std::stoi(task.path().filename().string())), nice);
}

// Four steady services allocate flat out (MemProfileRate 1: each
// allocation is an entry point's record and a heap sample's) on a small
// machine, while gotrace runs at nice 10: a few percent of a CPU, less than
// the records take to read. The trace must end when its duration is up:
// its last drain takes what the ring buffer holds, not what the services
// go on allocating while it drains.
TEST(Faults, AGotraceShortOfCpuEndsOnTimeWhileItsTargetsAllocateFlatOut) {
  REQUIRE_BPF_PRIVILEGES();
  std::string binary = local_build("allocs", "plain");
  LeftoverCheck check;
  std::vector<std::unique_ptr<ChildProcess>> services;
  std::vector<std::string> args{"attach", "--exact", "-d", "3s", "--no-tui"};
  for (int i = 0; i < 4; ++i) {
    services.push_back(std::make_unique<ChildProcess>(std::vector<std::string>{binary, "steady"}));
    services.back()->read_until("steady");
    args.push_back(std::to_string(services.back()->pid()));
  }
  ScratchFile pprof("short-of-cpu.pb.gz");
  args.insert(args.end(), {"-o", pprof.path()});
  BackgroundGotrace tracer(args);
  ASSERT_TRUE(tracer.wait_attached()) << tracer.err();
  auto attached = steady_clock::now();
  renice_threads(tracer.pid(), 10);
  int status = tracer.wait(std::chrono::seconds(60));
  double seconds = std::chrono::duration<double>(steady_clock::now() - attached).count();
  EXPECT_EQ(status, 0) << tracer.err();
  SummaryCounts counts;
  EXPECT_TRUE(parse_summary(tracer.err(), &counts)) << tracer.err();
  std::cout << fmt::format("[ figures  ] 4 services flat out, gotrace at nice 10, -d 3s: it ended {:.1f}s after "
                           "attaching; {} allocations recorded, {} counted lost\n",
                           seconds, counts.allocations, counts.lost);
  for (auto& service : services) {
    service->close_stdin();
    EXPECT_EQ(service->wait(), 0) << "service pid " << service->pid();
  }
  EXPECT_TRUE(check.nothing_left({}));
}

}  // namespace
}  // namespace gotrace
