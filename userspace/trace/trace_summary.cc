#include "userspace/trace/trace_summary.h"

#include <fmt/format.h>

#include "base/text_format.h"

namespace gotrace {
namespace {

// What the target exec'd, when, what that means for the results, and how to
// trace the new program.
std::string exec_line(int pid, const TargetExec& exec) {
  std::string program = exec.program ? "'" + *exec.program + "'"
                                     : fmt::format("another program ({})", exec.program.error().message);
  std::string line = fmt::format("gotrace: pid {} exec'd {} at {:.2f}s into the trace: tracing stopped there, and "
                                 "the results are of the program it ran before",
                                 pid, program, std::chrono::duration<double>(exec.at).count());
  if (!exec.exact)
    line += " (the exec's record found the ring buffer full: a few allocations of the new program, read before "
            "gotrace learnt of the exec, may be counted as the old one's)";
  if (exec.started_by_gotrace) line += "; gotrace waits for it to exit, and exits with its status";
  return line + fmt::format("; `gotrace attach {}` traces the new program\n", pid);
}

}  // namespace

std::string format_trace_summary(const TraceSummary& s) {
  double seconds = std::chrono::duration<double>(s.duration).count();
  std::string lost = s.counts ? drops_summary(*s.counts) : "events lost unknown: " + s.counts.error().message;
  const char* until = s.exec ? " (until it exec'd)" : s.target_exited ? " (until it exited)" : "";
  std::string text = fmt::format("gotrace: traced pid {} for {:.2f}s{}: {} allocations, {}; {}\n", s.pid, seconds,
                                 until, s.totals.count, format_bytes(s.totals.bytes), lost);
  if (s.exec) text += exec_line(s.pid, *s.exec);
  if (s.sample_rate != 0) {
    std::string recorded =
        s.kernel ? fmt::format("{} of {} allocations ({} requested, counted in the kernel)", s.events,
                               s.kernel->allocations, format_bytes(s.kernel->requested_bytes))
                 : fmt::format("{} allocations ({})", s.events, s.kernel.error().message);
    text += fmt::format("gotrace: sampled one allocation per {} on average: {} recorded; figures above are "
                        "estimates\n",
                        format_bytes(s.sample_rate), recorded);
  }
  if (s.merges.rounds != 0) {
    AllocationTotals merged = s.merges.merged.rounded();
    text += fmt::format("gotrace: --max-memory {} reached {} time{}: {} distinct stack{} ({} allocations, {}) merged "
                        "into their call sites, kept to their {} leaf-most frames under a {} root; totals are exact, "
                        "{} distinct stacks at the end\n",
                        format_bytes(s.max_memory), s.merges.rounds, s.merges.rounds == 1 ? "" : "s",
                        s.merges.stacks, s.merges.stacks == 1 ? "" : "s", merged.count, format_bytes(merged.bytes),
                        s.merges.kept_frames, kMergedFrame, s.distinct_stacks);
  }
  if (std::string notices = s.counts ? notices_summary(*s.counts, s.verbose) : ""; !notices.empty())
    text += fmt::format("gotrace: {}\n", notices);
  return text;
}

}  // namespace gotrace
