// SIGINT, SIGTERM and SIGHUP sent to `gotrace attach` at random moments of
// its start-up. Either of two things, as the README says: before gotrace
// starts attaching, the signal ends it as it ends any program (status 128+N,
// nothing written); from then on it ends the trace as Ctrl-C does (status 0,
// the summary and the files written, however short the trace). Either way
// promptly, and nothing is left: no file next to the output but the output,
// no BPF object, no probe in the target.
#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
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
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr auto kSignallingTime = std::chrono::seconds(20);
// From the signal to gotrace's exit at most: the rest of an attach that had
// begun (the kernel's verifier, seconds on a busy machine), the drain, the
// summary and a small profile. What gotrace controls is checked closer: the
// trace it reports goes on at most this long after the signal.
constexpr auto kPromptly = std::chrono::seconds(30);
constexpr double kTraceAfterTheSignal = 0.5;  // seconds
constexpr microseconds kFirstMilliseconds(30000);

struct Outcomes {
  int killed = 0;   // ended by the signal before attaching
  int stopped = 0;  // the trace ended as by Ctrl-C
  milliseconds slowest{0};  // from the signal to the exit
};

// The duration of the trace in gotrace's summary, "traced pid N for 0.01s";
// -1 when there is none.
double traced_seconds(const std::string& gotrace_stderr) {
  size_t at = gotrace_stderr.find("gotrace: traced pid ");
  if (at == std::string::npos) return -1;
  at = gotrace_stderr.find(" for ", at);
  return at == std::string::npos ? -1 : std::strtod(gotrace_stderr.c_str() + at + 5, nullptr);
}

// One signal at one moment; what came of it.
void signal_during_startup(pid_t target, int signal, microseconds delay, Outcomes& outcomes) {
  ScratchDirectory outputs("startup-signal");
  std::string pprof = outputs.path() + "/trace.pb.gz";
  BackgroundGotrace tracer({"attach", std::to_string(target), "--no-tui", "-o", pprof});
  std::this_thread::sleep_until(tracer.started() + delay);
  tracer.signal(signal);
  auto signalled = steady_clock::now();
  int status = tracer.wait();
  auto took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - signalled);
  EXPECT_LE(took, kPromptly) << tracer.err();
  outcomes.slowest = std::max(outcomes.slowest, took);
  if (status == 128 + signal) {
    ++outcomes.killed;
    EXPECT_FALSE(tracer.said_attached()) << "attached, then died of the signal: " << tracer.err();
    EXPECT_EQ(outputs.names(), std::vector<std::string>{}) << "written although it never traced";
    return;
  }
  ASSERT_EQ(status, 0) << tracer.err();
  ++outcomes.stopped;
  EXPECT_TRUE(tracer.said_attached()) << tracer.err();
  double traced = traced_seconds(tracer.err());
  EXPECT_GE(traced, 0) << tracer.err();
  // The trace began after gotrace started, and the signal came `delay` after that.
  EXPECT_LE(traced, std::chrono::duration<double>(delay).count() + kTraceAfterTheSignal)
      << "the signal did not end the trace at once: " << tracer.err();
  EXPECT_EQ(outputs.names(), std::vector<std::string>{"trace.pb.gz"});
  EXPECT_TRUE(read_file(pprof).starts_with("\x1f\x8b")) << "not a gzipped profile";
}

TEST(Faults, SignalsDuringStartUpEndGotracePromptlyAndLeaveNothing) {
  REQUIRE_BPF_PRIVILEGES();
  std::string binary = local_build("allocs", "plain");
  LeftoverCheck check;
  ChurnTarget target(binary, {"env", "GOMAXPROCS=1"});
  microseconds to_attach = time_to_attach(target.pid());
  ASSERT_FALSE(::testing::Test::HasFailure());

  SeededSchedule schedule;
  SCOPED_TRACE(schedule.describe());
  std::map<int, Outcomes> by_signal;
  const int signals[] = {SIGINT, SIGTERM, SIGHUP};
  auto start = steady_clock::now();
  for (int trial = 0; steady_clock::now() - start < time_budget(kSignallingTime); ++trial) {
    int signal = signals[(trial / 2) % 3];
    // Half of the moments in gotrace's first milliseconds, before it blocks
    // the signals (its start and its plan of the probes take about 10 ms),
    // half anywhere until its probes are live (loading the probe into the
    // kernel takes most of that).
    int64_t until = trial % 2 == 0 ? kFirstMilliseconds.count() : to_attach.count() * 5 / 4;
    microseconds delay(schedule.uniform(0, until));
    SCOPED_TRACE(fmt::format("trial {}: {} {} µs after the start (probes live after about {} µs)", trial,
                             strsignal(signal), delay.count(), to_attach.count()));
    signal_during_startup(target.pid(), signal, delay, by_signal[signal]);
    if (::testing::Test::HasFatalFailure()) return;
    ASSERT_TRUE(check.nothing_left({target.pid()}));
    ASSERT_TRUE(target.running());
  }
  for (auto [signal, outcomes] : by_signal)
    std::cout << fmt::format("[ figures  ] {}: {} ended gotrace before it attached, {} ended the trace (exit 0); "
                             "exit at most {} ms after the signal\n",
                             strsignal(signal), outcomes.killed, outcomes.stopped, outcomes.slowest.count());
  EXPECT_EQ(target.finish().exit_code, 0);
}

}  // namespace
}  // namespace gotrace
