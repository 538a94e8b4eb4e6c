#include "userspace/trace/trace_summary.h"

#include <fmt/format.h>

#include "base/text_format.h"

namespace gotrace {

std::string format_trace_summary(const TraceSummary& s) {
  double seconds = std::chrono::duration<double>(s.duration).count();
  std::string lost = s.counts ? drops_summary(*s.counts) : "events lost unknown: " + s.counts.error().message;
  std::string text = fmt::format("gotrace: traced pid {} for {:.2f}s{}: {} allocations, {}; {}\n", s.pid, seconds,
                                 s.target_exited ? " (until it exited)" : "", s.totals.count,
                                 format_bytes(s.totals.bytes), lost);
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
