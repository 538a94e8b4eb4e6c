// What the probe counts besides allocations (GOTRACE_PROBE_COUNTERS in
// bpf/gotrace_abi.h) as a table, and the words that report it.
//
// Kept apart from alloc_probe.h so that what only shows the counts, such as
// the live view, does not depend on the BPF loader.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bpf/gotrace_abi.h"

namespace gotrace {

enum class CounterKind {
  kDrop = GOTRACE_COUNTER_KIND_DROP,      // an allocation missing from the results
  kNotice = GOTRACE_COUNTER_KIND_NOTICE,  // recorded but incomplete: the user should know
  kTally = GOTRACE_COUNTER_KIND_TALLY,    // the probe working as meant (nothing allocated, counted once)
};

struct ProbeCounter {
  size_t index;  // enum gotrace_counter; into ProbeCounts
  std::string_view name;
  CounterKind kind;
  bool counted_by_kernel;  // a per-CPU counter of the probe; else counted by gotrace itself
  std::string_view words;  // what the summary and the live view print after the count
};

inline constexpr ProbeCounter kProbeCounters[] = {
#define GOTRACE_COUNTER_ROW(name, kind, counted_by, words) \
  {GOTRACE_COUNTER_##name, #name, CounterKind(GOTRACE_COUNTER_KIND_##kind), GOTRACE_COUNTED_BY_##counted_by == 1, words},
    GOTRACE_PROBE_COUNTERS(GOTRACE_COUNTER_ROW)
#undef GOTRACE_COUNTER_ROW
};
static_assert(std::size(kProbeCounters) == GOTRACE_COUNTER_COUNT);

// The kernel's counters are the first rows: the key of each in the probe's
// counter map is its index.
constexpr bool kernel_counters_come_first() {
  for (size_t i = 0; i < std::size(kProbeCounters); ++i)
    if (kProbeCounters[i].counted_by_kernel != (i < GOTRACE_KERNEL_COUNTER_COUNT)) return false;
  return true;
}
static_assert(kernel_counters_come_first(), "GOTRACE_PROBE_COUNTERS: KERNEL rows first, then USERSPACE rows");

// Every counter, by enum gotrace_counter.
using ProbeCounts = std::array<uint64_t, GOTRACE_COUNTER_COUNT>;

// The counters of one kind that counted anything, each as `describe(count,
// words)` puts it, joined by commas.
template <typename Describe>
std::string join_counted(const ProbeCounts& counts, CounterKind kind, Describe describe) {
  std::string text;
  for (const ProbeCounter& counter : kProbeCounters) {
    if (counter.kind != kind || counts[counter.index] == 0) continue;
    text += (text.empty() ? "" : ", ") + describe(counts[counter.index], counter.words);
  }
  return text;
}

// Allocations missing from the results, all causes together.
uint64_t total_dropped(const ProbeCounts& counts);
// The summary's words for the drops: "0 events lost", or "events lost: "
// and each cause, "3 dropped (ring buffer full)".
std::string drops_summary(const ProbeCounts& counts);
// The summary's words for the notices, "5 stacks cut at the root end (deeper
// than ...)" and so on, and with `tallies` the tallies too; empty when there
// are none.
std::string notices_summary(const ProbeCounts& counts, bool tallies = false);

}  // namespace gotrace
