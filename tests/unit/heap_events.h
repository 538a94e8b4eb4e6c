// The events the probe hands the aggregator from the runtime's heap
// profiler, made by hand for the in-use tests (a sample, the end of a
// collection cycle, the free of a sampled object), and the aggregator they
// go to.
#pragma once

#include <cstdint>
#include <vector>

#include "bpf/gotrace_abi.h"
#include "userspace/profile/aggregator.h"

namespace gotrace::testing {

// A heap-profile sample of `size` bytes at `address`, taken at `rate`
// (MemProfileRate), with stack `pcs` (leaf first) and extra event flags.
inline gotrace_alloc_event sample_of(const std::vector<uint64_t>& pcs, uint64_t address, uint64_t size,
                                     uint64_t rate, uint32_t flags = 0) {
  gotrace_alloc_event event{};
  event.size = size;
  event.type = 0x5000;
  event.address = address;
  event.sample_rate = rate;
  event.flags = GOTRACE_EVENT_HEAP_SAMPLE | flags;
  event.stack_depth = uint32_t(pcs.size());
  for (size_t i = 0; i < pcs.size(); ++i) event.pcs[i] = pcs[i];
  return event;
}

inline gotrace_alloc_event cycle_end() {
  gotrace_alloc_event event{};
  event.flags = GOTRACE_EVENT_HEAP_CYCLE;
  return event;
}

inline gotrace_alloc_event free_of(uint64_t address) {
  gotrace_alloc_event event{};
  event.address = address;
  event.flags = GOTRACE_EVENT_HEAP_FREE;
  return event;
}

// An object sampled now counts in use once two cycles have ended.
inline void two_cycles(StackAggregator& a) {
  a.add(cycle_end());
  a.add(cycle_end());
}

// An aggregator that records in-use figures, with a memory bound (0: none).
inline StackAggregator inuse_aggregator(uint64_t max_bytes = 0) {
  StackAggregator a(AllocatorModel{true}, [](uint64_t) { return true; }, 0, max_bytes, 4096);
  a.set_records_inuse(true);
  return a;
}

}  // namespace gotrace::testing
