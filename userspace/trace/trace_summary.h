// The lines on stderr that end every trace: how long, how much, what was
// lost and why, and how sampling shaped the figures.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "base/result.h"
#include "userspace/probe/alloc_probe.h"
#include "userspace/probe/probe_counters.h"
#include "userspace/profile/aggregator.h"
#include "userspace/profile/profile.h"

namespace gotrace {

// The target exec'd, which ended the trace.
struct TargetExec {
  std::chrono::nanoseconds at{0};  // time into the trace
  Result<std::string> program = Error{"not read"};  // what it runs now, from /proc/<pid>/exe
  bool exact = true;               // false: see ExecSeen::exact
  bool started_by_gotrace = false; // `run`: gotrace waits for the program's exit
};

struct TraceSummary {
  int pid = 0;
  std::chrono::nanoseconds duration{0};
  bool target_exited = false;
  std::optional<TargetExec> exec;  // the trace ended at an exec of the target
  AllocationTotals totals;  // estimates when sampling
  Result<ProbeCounts> counts = Error{"not read"};
  uint64_t sample_rate = 0;  // 0: every allocation was recorded
  uint64_t events = 0;       // allocations recorded
  Result<KernelTotals> kernel = Error{"not read"};  // every allocation, as the kernel counted it
  bool verbose = false;      // -v: the tallies too
  size_t distinct_stacks = 0;  // held at the end
  MergeCounts merges;          // what --max-memory cost in detail
  uint64_t max_memory = 0;
};

// The summary, one line per subject, each ending in a newline.
std::string format_trace_summary(const TraceSummary& summary);

}  // namespace gotrace
