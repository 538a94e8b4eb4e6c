#include "userspace/profile/aggregator.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace gotrace {

void StackAggregator::add(const gotrace_alloc_event& event) {
  if (event.flags & GOTRACE_EVENT_HEAP_FREE) return add_free(event.address);
  if (event.flags & GOTRACE_EVENT_HEAP_CYCLE) return end_cycle();
  if (event.flags & GOTRACE_EVENT_HEAP_SAMPLE) return add_heap_sample(event);
  // mallocgc(0) returns a shared zero-size address without allocating; the
  // probe counts such requests and sends none.
  if (event.size == 0) return;
  auto cached = noscan_cache_.find(event.type);
  bool noscan = cached != noscan_cache_.end() ? cached->second
                                              : noscan_cache_.emplace(event.type, noscan_(event.type)).first->second;
  double bytes = allocated_bytes(event.size, noscan, model_);
  double weight = 1;
  if (sample_rate_ != 0) weight = 1 / (1 - std::exp(-double(event.size) / double(sample_rate_)));
  bool added = false;
  WeightedTotals& stack = store_.at(stack_of(event, &added)).totals;
  stack.count += weight;
  stack.bytes += weight * bytes;
  totals_.count += weight;
  totals_.bytes += weight * bytes;
  ++events_;
  if (added && max_bytes_ != 0 && store_.bytes() > std::max<uint64_t>(max_bytes_, floor_bytes_)) merge_coldest();
}

uint32_t StackAggregator::stack_of(const gotrace_alloc_event& event, bool* added) {
  uint64_t hash = StackStore::hash(event.type, false, event.pcs, event.stack_depth);
  std::optional<uint32_t> id = store_.find(hash, event.type, false, event.pcs, event.stack_depth);
  *added = !id;
  if (id) return *id;
  uint8_t flags = (event.flags & GOTRACE_EVENT_TRUNCATED) != 0 ? StoredStack::kTruncated : 0;
  return store_.insert(hash, event.type, flags, event.pcs, event.stack_depth);
}

void StackAggregator::add_heap_sample(const gotrace_alloc_event& event) {
  // The runtime samples an object of size s with probability
  // 1 - exp(-s/rate); the size is the one it records (the size class's).
  double weight = 1;
  if (event.sample_rate > 1) weight = 1 / (1 - std::exp(-double(event.size) / double(event.sample_rate)));
  WeightedTotals estimate{weight, weight * double(event.size)};
  bool added = false;
  uint32_t id = stack_of(event, &added);
  StoredStack& stack = store_.at(id);
  // Traced exactly as well: the allocation is counted already.
  if (!(event.flags & GOTRACE_EVENT_ALSO_EXACT)) {
    stack.totals.add(estimate);
    totals_.add(estimate);
    ++events_;
  }
  // An address sampled again was freed unseen (its record unreadable).
  if (live_.count(event.address) != 0) add_free(event.address);
  live_[event.address] = {id, estimate, cycles_, false};
  pending_.emplace_back(event.address, cycles_);
  if (added && max_bytes_ != 0 && store_.bytes() > std::max<uint64_t>(max_bytes_, floor_bytes_)) merge_coldest();
}

void StackAggregator::add_free(uint64_t address) {
  auto it = live_.find(address);
  if (it == live_.end()) {
    ++earlier_frees_;  // sampled before the trace began
    return;
  }
  if (it->second.counted) {
    --counted_objects_;
    WeightedTotals& stack = changing_inuse(it->second.stack).inuse;
    stack.count -= it->second.estimate.count;
    stack.bytes -= it->second.estimate.bytes;
    inuse_.count -= it->second.estimate.count;
    inuse_.bytes -= it->second.estimate.bytes;
  }
  live_.erase(it);  // a pending object's entry in pending_ finds nothing
}

void StackAggregator::end_cycle() {
  ++cycles_;
  while (!pending_.empty() && pending_.front().second + 2 <= cycles_) {
    auto [address, cycle] = pending_.front();
    pending_.pop_front();
    auto it = live_.find(address);
    // Freed since, or freed and sampled again in a later cycle.
    if (it == live_.end() || it->second.cycle != cycle || it->second.counted) continue;
    it->second.counted = true;
    ++counted_objects_;
    changing_inuse(it->second.stack).inuse.add(it->second.estimate);
    inuse_.add(it->second.estimate);
  }
  if (inuse_.bytes <= peak_inuse_.bytes) return;
  // A new peak: every stack's in-use figures now are its figures at it.
  peak_aside_.clear();
  peak_cycle_ = cycles_;
  peak_inuse_ = inuse_;
}

StoredStack& StackAggregator::changing_inuse(uint32_t id) {
  StoredStack& stack = store_.at(id);
  peak_aside_.try_emplace(id, stack.inuse);
  return stack;
}

const WeightedTotals& StackAggregator::stack_peak_inuse(size_t id) const {
  auto aside = peak_aside_.find(uint32_t(id));
  return aside != peak_aside_.end() ? aside->second : store_.at(uint32_t(id)).inuse;
}

void StackAggregator::drain(const std::function<void(const RawStack&)>& each) {
  store_.drain([&](uint32_t id, RawStack& raw) {
    auto aside = peak_aside_.find(id);
    raw.peak_inuse = aside != peak_aside_.end() ? aside->second : raw.inuse;
    each(raw);
  });
  peak_aside_.clear();
}

void StackAggregator::renumber_peak_aside(const std::vector<uint32_t>& renumbered,
                                          const std::vector<std::pair<uint32_t, WeightedTotals>>& differences) {
  // A stack combined of others was, at the peak, its parts' figures then:
  // what it holds now, plus each part's difference between then and now.
  peak_aside_.clear();
  for (const auto& [old_id, difference] : differences) {
    WeightedTotals& peak = peak_aside_.try_emplace(renumbered[old_id], store_.at(renumbered[old_id]).inuse).first->second;
    peak.add(difference);
  }
}

RawStack StackAggregator::stack(size_t id) const {
  RawStack raw;
  store_.read(uint32_t(id), &raw);
  raw.peak_inuse = stack_peak_inuse(id);
  return raw;
}

void StackAggregator::merge_coldest() {
  ++merges_.rounds;
  size_t target = max_bytes_ / 4 * 3;
  // Each pass cuts the coldest stacks to kept_frames; one that frees too
  // little is followed by one cutting them shorter.
  while (store_.bytes() > target) {
    size_t need = store_.bytes() - target;
    // Coldest first: fewest bytes, and of equals the newest, which has had
    // the least time to show what it is worth.
    std::vector<uint32_t> order(store_.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      double bytes_a = store_.at(a).totals.bytes, bytes_b = store_.at(b).totals.bytes;
      return bytes_a < bytes_b || (bytes_a == bytes_b && a > b);
    });
    // Cutting frees 4 bytes a frame, and more where stacks cut to the same
    // call site become one: the count of frames alone errs on merging more.
    std::vector<uint8_t> keep(store_.size(), 0);
    size_t freed = 0;
    for (size_t i = 0; i < order.size() && freed < need; ++i) {
      const StoredStack& stack = store_.at(order[i]);
      if (stack.depth <= merges_.kept_frames) continue;  // nothing to cut
      keep[order[i]] = uint8_t(merges_.kept_frames);
      freed += (stack.depth - merges_.kept_frames) * sizeof(uint32_t);
      if (stack.flags & StoredStack::kMerged) continue;  // counted when first merged
      ++merges_.stacks;
      merges_.merged.add(stack.totals);
    }
    std::vector<std::pair<uint32_t, WeightedTotals>> peak_differences;
    for (const auto& [id, peak] : peak_aside_) {
      const WeightedTotals& now = store_.at(id).inuse;
      peak_differences.push_back({id, WeightedTotals{peak.count - now.count, peak.bytes - now.bytes}});
    }
    std::vector<uint32_t> renumbered = store_.cut_and_combine(keep);
    for (auto& [address, object] : live_) object.stack = renumbered[object.stack];
    renumber_peak_aside(renumbered, peak_differences);
    if (store_.bytes() <= target) break;
    if (merges_.kept_frames <= kMinMergedFrames) {
      // Every stack is down to its call site: what is left is the distinct
      // call sites themselves. The next round waits for a quarter more, rather
      // than sorting everything again at every new stack.
      floor_bytes_ = store_.bytes() / 4 * 5;
      break;
    }
    merges_.kept_frames = std::max(kMinMergedFrames, merges_.kept_frames / 2);
  }
}

}  // namespace gotrace
