#include "userspace/profile/aggregator.h"

#include <cmath>
#include <cstring>

namespace gotrace {
namespace {

// FNV-1a over the event's type and stack: cheap, and collisions are resolved
// by comparing contents.
uint64_t hash_event(const gotrace_alloc_event& event) {
  uint64_t hash = 1469598103934665603ull;
  auto mix = [&](uint64_t word) {
    hash ^= word;
    hash *= 1099511628211ull;
  };
  mix(event.type);
  for (uint32_t i = 0; i < event.stack_depth; ++i) mix(event.pcs[i]);
  return hash;
}

}  // namespace

void StackAggregator::add(const gotrace_alloc_event& event) {
  // mallocgc(0) returns a shared zero-size address without allocating; the
  // probe counts such requests and sends none.
  if (event.size == 0) return;
  auto cached = noscan_cache_.find(event.type);
  bool noscan = cached != noscan_cache_.end() ? cached->second
                                              : noscan_cache_.emplace(event.type, noscan_(event.type)).first->second;
  double bytes = allocated_bytes(event.size, noscan, model_);
  double weight = 1;
  if (sample_rate_ != 0) weight = 1 / (1 - std::exp(-double(event.size) / double(sample_rate_)));
  RawStack& stack = stacks_[find_or_insert(hash_event(event), event)];
  stack.totals.count += weight;
  stack.totals.bytes += weight * bytes;
  totals_.count += weight;
  totals_.bytes += weight * bytes;
  ++events_;
}

uint32_t StackAggregator::find_or_insert(uint64_t hash, const gotrace_alloc_event& event) {
  auto [begin, end] = index_.equal_range(hash);
  for (auto it = begin; it != end; ++it) {
    const RawStack& stack = stacks_[it->second];
    if (stack.type == event.type && stack.pcs.size() == event.stack_depth &&
        std::memcmp(stack.pcs.data(), event.pcs, event.stack_depth * sizeof(uint64_t)) == 0)
      return it->second;
  }
  uint32_t id = stacks_.size();
  stacks_.push_back({event.type, std::vector<uint64_t>(event.pcs, event.pcs + event.stack_depth),
                     (event.flags & GOTRACE_EVENT_TRUNCATED) != 0, {}});
  index_.emplace(hash, id);
  return id;
}

}  // namespace gotrace
