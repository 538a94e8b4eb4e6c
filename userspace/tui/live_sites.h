// The live view's running picture of the trace, kept on the view's thread:
// each stack symbolized once, when a snapshot first brings it, and every
// stack's totals summed by call site at each refresh.
#pragma once

#include <map>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "userspace/trace/aggregator.h"
#include "userspace/tui/site_table.h"
#include "userspace/tui/trace_snapshot.h"

namespace gotrace {

class LiveSites {
 public:
  explicit LiveSites(StackSymbolizer symbolizer) : symbolizer_(std::move(symbolizer)) {}

  // Symbolizes the stacks new in `snapshot` and sums all stacks' totals by
  // site. tracer_cpu_seconds is left for the caller.
  SiteTable update(const TraceSnapshot& snapshot);

  // The `limit` heaviest (in bytes) of the distinct stacks at a site, after
  // trimming and with their type, as of the last update.
  SiteStacks stacks_at(uint32_t site_id, size_t limit) const;

 private:
  // Stacks that trimming made equal, as in the profile.
  struct Sample {
    std::vector<uint32_t> locations;  // into symbolizer_.locations(), leaf first
    std::string_view type_name;
    bool truncated = false;
    uint32_t site = 0;
    WeightedTotals totals;
  };
  struct Site {
    Frame leaf;
    std::vector<uint32_t> samples;
  };
  uint32_t sample_for(const StackAggregator::Stack& stack);

  StackSymbolizer symbolizer_;
  std::vector<uint32_t> sample_of_stack_;  // by stack index
  std::vector<Sample> samples_;
  std::vector<Site> sites_;
  std::unordered_map<std::string, uint32_t> sample_index_;  // by sample_key()
  std::map<std::tuple<std::string_view, std::string_view, int64_t>, uint32_t> site_index_;  // function, file, line
};

}  // namespace gotrace
