// The lines on stderr that end every trace: how long, how much, what was
// lost and why, and how sampling shaped the figures.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "userspace/probe/alloc_probe.h"
#include "userspace/probe/probe_counters.h"
#include "userspace/profile/aggregator.h"
#include "userspace/profile/profile.h"
#include "userspace/trace/overhead_guard.h"

namespace gotrace {

// The target exec'd, which ended the trace.
struct TargetExec {
  std::chrono::nanoseconds at{0};  // time into the trace
  Result<std::string> program = Error{"not read"};  // what it runs now, from /proc/<pid>/exe
  bool exact = true;               // false: see ExecSeen::exact
  bool started_by_gotrace = false; // `run`: gotrace waits for the program's exit
};

// What the overhead guard saw, and whether it fell back.
struct GuardOutcome {
  OverheadReading reading;  // at the switch, or over the whole trace
  double budget = 0;
  std::optional<std::chrono::nanoseconds> switched_at;  // into the trace
  bool heap_took_over = false;  // false: the heap profiler was off, tracing stopped
};

// The runtime's heap profiler as the trace watched it.
struct HeapFigures {
  bool heap_mode = false;              // --heap: the samples are all the allocations seen
  std::optional<uint64_t> rate;        // runtime.MemProfileRate, when read
  uint64_t samples = 0;                // heap-profile samples received
  bool records_inuse = false;
  std::string no_inuse_reason;         // when !records_inuse
  AllocationTotals inuse;
  size_t live_objects = 0;             // sampled objects not freed
  size_t pending_objects = 0;          // of those, sampled in the last two cycles: not counted yet
  uint64_t cycles = 0;                 // the heap profile's collection cycles ended while tracing
  // In use at the end of the cycle with the most bytes in use, and when
  // gotrace read that cycle's end (time into the trace); none when nothing
  // was in use at a cycle's end (StackAggregator::peak_cycle 0), and none
  // for several processes together, whose peaks are each its own.
  std::optional<AllocationTotals> peak_inuse{};
  std::chrono::nanoseconds peak_at{0};
  // The program set runtime.MemProfileRate to 0 while traced, about this
  // far into its trace: the runtime sampled nothing after (the Go compiler
  // does so at its start unless asked for a memory profile).
  std::optional<std::chrono::nanoseconds> turned_off_at{};
};

struct TraceSummary {
  int pid = 0;
  std::chrono::nanoseconds duration{0};
  bool target_exited = false;
  std::optional<TargetExec> exec{};  // the trace ended at an exec of the target
  AllocationTotals totals{};  // estimates when sampling
  Result<ProbeCounts> counts = Error{"not read"};
  uint64_t sample_rate = 0;  // 0: every allocation was recorded
  uint64_t events = 0;       // allocations recorded
  Result<KernelTotals> kernel = Error{"not read"};  // every allocation, as the kernel counted it
  bool verbose = false;      // -v: the tallies too
  size_t distinct_stacks = 0;  // held at the end
  MergeCounts merges{};        // what --max-memory cost in detail
  uint64_t max_memory = 0;
  HeapFigures heap{};
  std::optional<GuardOutcome> guard{};  // attach's default mode
};

// The summary, one line per subject, each ending in a newline.
std::string format_trace_summary(const TraceSummary& summary);

// The summary of a trace of several processes (`names` theirs, in order): a
// line for all of them, then one per process, then the rest of the summary
// for all of them together. Of one process, that process's summary.
// `unattributed` is what the probe counted without knowing whose it was.
std::string format_session_summary(std::vector<TraceSummary> each, const std::vector<std::string>& names,
                                   const Result<ProbeCounts>& unattributed, std::chrono::nanoseconds duration);

}  // namespace gotrace
