// Aggregation of allocation events by content, on the event loop.
//
// StackAggregator keys each event by its type and raw return addresses (no
// symbolization on the hot path) and keeps counts and bytes, in a compact
// store (stack_store.h). Its memory grows with distinct stacks, never with
// events, and it lives in userspace, so a long trace never fills a kernel
// map. Symbolization comes later, once per distinct address
// (profile_builder.h).
//
// Besides allocations, it takes the runtime's heap-profile samples and the
// frees of sampled objects (gotrace_abi.h): a sample is an estimated
// allocation (scaled as Go scales its heap profile, with the target's own
// MemProfileRate) and, until its object is freed, estimated memory in use.
// Samples arrive with the allocator's frames already trimmed and their type
// filled in by the caller. Only objects sampled while tracing are known:
// in-use figures are of what was allocated since. An object counts as in
// use once two of the heap profile's collection cycles have ended since it
// was sampled, as in Go's own profile: by then the collector has either
// found it alive or the sweeper freed it. Before that it is pending: garbage
// not swept yet would otherwise count as in use until the next collection,
// which on a large heap is a long while.
//
// It keeps the in-use figures at the peak as well: at the end of each
// collection cycle where the in-use bytes are more than at the end of any
// cycle before, each stack's in-use figures then are its peak. They are not
// copied there and then: a stack's are put aside, in a table of their own,
// only when its in-use figures first change after the peak, so that a new
// peak costs nothing per stack, and a stack that never holds sampled memory
// (most, under exact tracing) costs no memory for it.
//
// The memory it holds is bounded (--max-memory): when a new stack takes it
// over the bound, the coldest stacks (fewest bytes) are merged into their
// call sites: cut to their leaf-most frames and marked merged, so that
// stacks that become equal are one. Totals stay exact; only detail is
// lost, and how much is counted.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <unordered_map>
#include <vector>

#include "bpf/gotrace_abi.h"
#include "userspace/profile/allocation_size.h"
#include "userspace/profile/profile.h"
#include "userspace/profile/stack_store.h"

namespace gotrace {

// What the memory bound cost the detail of a trace.
struct MergeCounts {
  uint64_t rounds = 0;      // times the bound was reached
  uint64_t stacks = 0;      // distinct stacks merged into their call sites
  WeightedTotals merged;    // their allocations and bytes at the time they were merged
  uint32_t kept_frames = 0; // leaf-most frames a merged stack keeps, as of the last round
};

class StackAggregator {
 public:
  // The leaf-most frames a stack keeps when first merged, halved in each
  // round that frees too little, down to 4: enough, past the runtime's own
  // frames at the leaf (mallocgc, newobject, a map's growth), to keep the
  // call site, which the aggregator cannot tell without symbolizing.
  static constexpr uint32_t kMergedFrames = 8;
  static constexpr uint32_t kMinMergedFrames = 4;

  // `noscan(type)` says whether a runtime type address has no pointers.
  // With a `sample_rate`, events were recorded with probability
  // 1 - exp(-size/rate), and each is weighted by the inverse: the formula of
  // Go's own heap profile (runtime/pprof scaleHeapSample) for one object.
  // `max_bytes` bounds what the stacks take (0: no bound).
  StackAggregator(AllocatorModel model, std::function<bool(uint64_t type)> noscan, uint64_t sample_rate = 0,
                  uint64_t max_bytes = 0, size_t segment_bytes = size_t(1) << 20)
      : model_(model), noscan_(std::move(noscan)), sample_rate_(sample_rate), max_bytes_(max_bytes),
        store_(segment_bytes) {}

  void add(const gotrace_alloc_event& event);

  // Whether heap-profile samples are taken, so that the in-use figures mean
  // something; set before the first event.
  void set_records_inuse(bool records) { records_inuse_ = records; }
  bool records_inuse() const { return records_inuse_; }
  AllocationTotals inuse_totals() const { return inuse_.rounded(); }
  // Sampled objects alive now, counted in use or pending, and frees of
  // objects sampled before tracing.
  size_t live_objects() const { return live_.size(); }
  size_t pending_objects() const { return live_.size() - counted_objects_; }
  uint64_t cycles() const { return cycles_; }  // collection cycles ended while tracing
  // The end of the collection cycle with the most bytes in use (counting
  // from 1), and what was in use then; 0 when nothing has been in use at
  // the end of a cycle yet.
  uint64_t peak_cycle() const { return peak_cycle_; }
  AllocationTotals peak_inuse_totals() const { return peak_inuse_.rounded(); }
  uint64_t frees_of_earlier_objects() const { return earlier_frees_; }

  // Distinct stacks so far, by id: 0 to stack_count() - 1, in the order
  // they first appeared, until a merge renumbers them (generation()).
  size_t stack_count() const { return store_.size(); }
  const WeightedTotals& stack_totals(size_t id) const { return store_.at(uint32_t(id)).totals; }
  const WeightedTotals& stack_inuse(size_t id) const { return store_.at(uint32_t(id)).inuse; }
  const WeightedTotals& stack_peak_inuse(size_t id) const;
  RawStack stack(size_t id) const;
  // Bumped each time merging renumbers the stacks.
  uint64_t generation() const { return merges_.rounds; }

  AllocationTotals totals() const { return totals_.rounded(); }
  uint64_t events() const { return events_; }
  const MergeCounts& merges() const { return merges_; }
  uint64_t max_bytes() const { return max_bytes_; }
  // What the stacks take in memory now, in bytes.
  size_t bytes() const { return store_.bytes(); }
  // The frames of every stack, or a few more: room for their profile.
  size_t frame_count() const { return store_.frame_count(); }

  // Hands every stack to `each`, in order, giving the memory back as it
  // goes: for the profile at the end of a trace. No stack is left after.
  void drain(const std::function<void(const RawStack&)>& each);

 private:
  // Merges the coldest stacks until the store is back under 3/4 of the bound.
  void merge_coldest();
  // The stack of an event, added with zero totals if new.
  uint32_t stack_of(const gotrace_alloc_event& event, bool* added);
  void add_heap_sample(const gotrace_alloc_event& event);
  void add_free(uint64_t address);
  // A collection cycle ended: the objects sampled two cycles ago and not
  // freed are in use.
  void end_cycle();
  // The in-use figures of stack `id`, about to change: what they were at
  // the peak is kept aside, if not yet since the peak.
  StoredStack& changing_inuse(uint32_t id);
  // After merging renumbered the stacks (`renumbered`: old id to new), the
  // figures put aside at the peak, given as each old stack's difference
  // from its figures now (`differences`), go to the stacks they are part of.
  void renumber_peak_aside(const std::vector<uint32_t>& renumbered,
                           const std::vector<std::pair<uint32_t, WeightedTotals>>& differences);

  // A sampled object alive: its stack, what it stands for, and the cycle it
  // was sampled in.
  struct LiveObject {
    uint32_t stack;
    WeightedTotals estimate;
    uint64_t cycle;
    bool counted;  // in its stack's in-use figures (else pending)
  };

  AllocatorModel model_;
  std::function<bool(uint64_t)> noscan_;
  std::unordered_map<uint64_t, bool> noscan_cache_;
  uint64_t sample_rate_;
  uint64_t max_bytes_;
  StackStore store_;
  WeightedTotals totals_;
  uint64_t events_ = 0;
  MergeCounts merges_{0, 0, {}, kMergedFrames};
  // Above max_bytes_ once the stacks could not be cut below it.
  uint64_t floor_bytes_ = 0;
  bool records_inuse_ = false;
  WeightedTotals inuse_;
  std::unordered_map<uint64_t, LiveObject> live_;  // by address
  std::deque<std::pair<uint64_t, uint64_t>> pending_;  // (address, cycle) of objects not counted yet, oldest first
  uint64_t cycles_ = 0;
  uint64_t peak_cycle_ = 0;
  WeightedTotals peak_inuse_;
  // The in-use figures at the peak of the stacks whose figures changed
  // since, by stack id; the others' are what they are now.
  std::unordered_map<uint32_t, WeightedTotals> peak_aside_;
  size_t counted_objects_ = 0;
  uint64_t earlier_frees_ = 0;
};

}  // namespace gotrace
