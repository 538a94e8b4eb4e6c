#include "userspace/probe/probe_counters.h"

#include <fmt/format.h>

namespace gotrace {

uint64_t total_dropped(const ProbeCounts& counts) {
  uint64_t total = 0;
  for (const ProbeCounter& counter : kProbeCounters)
    if (counter.kind == CounterKind::kDrop) total += counts[counter.index];
  return total;
}

std::string drops_summary(const ProbeCounts& counts) {
  std::string text = join_counted(counts, CounterKind::kDrop, [](uint64_t count, std::string_view words) {
    return fmt::format("{} dropped ({})", count, words);
  });
  return text.empty() ? "0 events lost" : "events lost: " + text;
}

std::string notices_summary(const ProbeCounts& counts, bool tallies) {
  auto describe = [](uint64_t count, std::string_view words) { return fmt::format("{} {}", count, words); };
  std::string text = join_counted(counts, CounterKind::kNotice, describe);
  std::string tallied = tallies ? join_counted(counts, CounterKind::kTally, describe) : "";
  return text.empty() || tallied.empty() ? text + tallied : text + ", " + tallied;
}

}  // namespace gotrace
