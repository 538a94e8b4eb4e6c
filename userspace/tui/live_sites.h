// The live view's running picture of the trace, kept on the view's thread:
// each stack symbolized and merged into a sample once, when a snapshot first
// brings it (the same SampleMerger as the profile written at the end), and
// every sample's totals summed by call site at each refresh.
#pragma once

#include <cstdint>
#include <vector>

#include "userspace/profile/call_sites.h"
#include "userspace/profile/profile_builder.h"
#include "userspace/tui/site_table.h"
#include "userspace/tui/trace_snapshot.h"

namespace gotrace {

class LiveSites {
 public:
  // `symbolizer` is the view's own: it runs on the view's thread.
  explicit LiveSites(StackSymbolizer symbolizer);

  // Symbolizes the stacks new in `snapshot` and sums all stacks' totals by
  // site. tracer_cpu_seconds is left for the caller.
  SiteTable update(const TraceSnapshot& snapshot);

  // The `limit` heaviest (in bytes) of the distinct stacks at a site, after
  // trimming and with their type, as of the last update.
  SiteStacks stacks_at(uint32_t site_id, size_t limit) const;

 private:
  void add_stack(const RawStack& stack);

  SampleMerger merger_;
  uint64_t generation_ = 0;                       // of the stack indexes below
  std::vector<uint32_t> sample_of_stack_;         // by stack index
  std::vector<uint32_t> site_of_sample_;          // by sample index
  std::vector<WeightedTotals> sample_totals_;     // by sample index, as of the last update
  std::vector<WeightedTotals> sample_inuse_;      // the same, in use
  std::vector<std::vector<uint32_t>> site_samples_;  // by site id
  CallSiteIndex sites_;
};

}  // namespace gotrace
