// What the reliability tests share: the target most faults are thrown beside
// (the allocs fixture in churn mode, tests/fixtures/allocs/churn.go,
// allocating flat out on every core and computing a checksum of its work
// that any harm done to it would change), a random schedule that can be
// replayed, and readers of gotrace's summary and folded output.
#pragma once

#include <sys/types.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tests/support/child_process.h"

namespace gotrace::testing {

// What a churn run computed.
struct ChurnResult {
  int exit_code = -1;
  std::map<std::string, int> checksums;  // checksum -> rounds that computed it
  uint64_t mallocs = 0;                  // the runtime's count of allocations
  std::string output;                    // everything it printed, for messages
};

// Parses the lines a churn run prints at its end.
ChurnResult parse_churn_output(int exit_code, const std::string& output);

// Whether a churn run exited 0 having computed, in every round, `untraced`
// (the checksum of a run nothing traced): the target's work came out intact.
::testing::AssertionResult worked_as_untraced(const ChurnResult& result, const std::string& untraced);

// The checksum of one round, from a run of its own that nothing traces; a
// test failure and "" when it cannot be had.
std::string untraced_checksum(const std::string& binary);

// The state letter of /proc/<pid>/stat: R, S, D, T (stopped), Z, ...; '?'
// when it cannot be read.
char process_state(pid_t pid);

class ChurnTarget {
 public:
  // Starts `binary` in churn mode (`prefix` before it, e.g. {"env",
  // "GOMAXPROCS=1"} or a chroot; it must exec, keeping the pid) and waits
  // until its first round is done.
  explicit ChurnTarget(const std::string& binary, const std::vector<std::string>& prefix = {});

  pid_t pid() const { return process_.pid(); }
  // Whether it is alive and running: not exited, not a zombie, not stopped.
  bool running() const;
  // Has the main goroutine allocate `count` objects at main.siteBurst;
  // returns once it says it has.
  bool burst(int count);
  // Ends it (EOF on stdin) and returns what it computed.
  ChurnResult finish();

 private:
  ChildProcess process_;
  std::vector<std::string> lines_;  // printed since it started
};

// A random schedule that can be replayed: the seed comes from
// GOTRACE_TEST_SEED when it is set, and is printed with every failure.
class SeededSchedule {
 public:
  SeededSchedule();
  uint64_t seed() const { return seed_; }
  // A whole number in [low, high].
  int64_t uniform(int64_t low, int64_t high);
  std::string describe() const;

 private:
  uint64_t seed_;
  std::mt19937_64 random_;
};

// The time a test spends repeating a fault: `nominal` times
// $GOTRACE_RELIABILITY_TIME (a factor, 1 when unset), which scripts/test.sh
// lowers for the run under the sanitizers, where each gotrace starts slower.
std::chrono::milliseconds time_budget(std::chrono::seconds nominal);

// How long gotrace takes from its start to live probes on `target`, the
// best of two tries (a busy machine makes some starts slow).
std::chrono::microseconds time_to_attach(pid_t target);

// The folded stacks whose leaf frame is `function`, summed.
uint64_t folded_count_at(const std::string& folded, const std::string& function);
// All the folded stacks, summed.
uint64_t folded_total(const std::string& folded);

// From gotrace's summary line: the allocations it recorded and the events it
// lost; false when stderr has no summary.
struct SummaryCounts {
  uint64_t allocations = 0;
  uint64_t lost = 0;
  uint64_t kernel_allocations = 0;  // only with --sample-rate
};
bool parse_summary(const std::string& gotrace_stderr, SummaryCounts* counts);

}  // namespace gotrace::testing
