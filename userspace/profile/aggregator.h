// Aggregation of allocation events by content, on the event loop.
//
// StackAggregator keys each event by its type and raw return addresses (no
// symbolization on the hot path) and keeps counts and bytes. Its memory grows
// with distinct stacks, never with events, and it lives in userspace, so a
// long trace never fills a kernel map. Symbolization comes later, once per
// distinct address (profile_builder.h).
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "bpf/gotrace_abi.h"
#include "userspace/profile/allocation_size.h"
#include "userspace/profile/profile.h"

namespace gotrace {

class StackAggregator {
 public:
  // `noscan(type)` says whether a runtime type address has no pointers.
  // With a `sample_rate`, events were recorded with probability
  // 1 - exp(-size/rate), and each is weighted by the inverse: the formula of
  // Go's own heap profile (runtime/pprof scaleHeapSample) for one object.
  StackAggregator(AllocatorModel model, std::function<bool(uint64_t type)> noscan, uint64_t sample_rate = 0)
      : model_(model), noscan_(std::move(noscan)), sample_rate_(sample_rate) {}

  void add(const gotrace_alloc_event& event);

  const std::vector<RawStack>& stacks() const { return stacks_; }
  AllocationTotals totals() const { return totals_.rounded(); }
  uint64_t events() const { return events_; }

 private:
  uint32_t find_or_insert(uint64_t hash, const gotrace_alloc_event& event);

  AllocatorModel model_;
  std::function<bool(uint64_t)> noscan_;
  std::unordered_map<uint64_t, bool> noscan_cache_;
  std::unordered_multimap<uint64_t, uint32_t> index_;  // content hash → stack
  std::vector<RawStack> stacks_;
  uint64_t sample_rate_;
  WeightedTotals totals_;
  uint64_t events_ = 0;
};

}  // namespace gotrace
