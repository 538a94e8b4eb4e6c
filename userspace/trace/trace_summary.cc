#include "userspace/trace/trace_summary.h"

#include <fmt/format.h>

#include "base/text_format.h"

namespace gotrace {

std::string loss_summary(const LossCounts& losses) {
  std::string text;
  for (const LossCause& cause : kLossCauses) {
    if (losses[cause.index] == 0) continue;
    text += fmt::format("{}{} dropped ({})", text.empty() ? "" : ", ", losses[cause.index], cause.what);
  }
  return text.empty() ? "0 events lost" : "events lost: " + text;
}

std::string format_trace_summary(const TraceSummary& s) {
  double seconds = std::chrono::duration<double>(s.duration).count();
  std::string text = fmt::format("gotrace: traced pid {} for {:.2f}s{}: {} allocations, {}; {}\n", s.pid, seconds,
                                 s.target_exited ? " (until it exited)" : "", s.totals.count,
                                 format_bytes(s.totals.bytes), loss_summary(s.losses));
  if (s.sample_rate != 0)
    text += fmt::format("gotrace: sampled one allocation per {} on average: {} of {} allocations ({} requested, "
                        "counted in the kernel) recorded; figures above are estimates\n",
                        format_bytes(s.sample_rate), s.events, s.kernel.allocations,
                        format_bytes(s.kernel.requested_bytes));
  if (s.losses[GOTRACE_LOSS_STACK_TRUNCATED] > 0)
    text += fmt::format("gotrace: {} stacks deeper than {} frames or {} KiB were cut at the root end\n",
                        s.losses[GOTRACE_LOSS_STACK_TRUNCATED], GOTRACE_MAX_STACK_DEPTH,
                        GOTRACE_MAX_STACK_WINDOWS * GOTRACE_STACK_WINDOW_BYTES / 1024);
  return text;
}

}  // namespace gotrace
