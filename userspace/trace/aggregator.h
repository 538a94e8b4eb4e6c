// Aggregation of allocation events by content, in two steps.
//
// StackAggregator runs on the event loop: it keys each event by its type and
// raw return addresses (no symbolization on the hot path) and keeps counts and
// bytes. Its memory grows with distinct stacks, never with events, and it
// lives in userspace, so a long trace never fills a kernel map.
//
// build_profile() then symbolizes each distinct return address once and
// produces what the exporters and the live view read: leaf-first locations
// with inlined frames, the runtime's own allocator frames trimmed the way
// Go's heap profile trims them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bpf/gotrace_abi.h"
#include "symbolizer/go_binary.h"
#include "symbolizer/process_maps.h"
#include "userspace/trace/allocation_size.h"
#include "userspace/trace/runtime_stack_rules.h"

namespace gotrace {

struct AllocationTotals {
  uint64_t count = 0;
  uint64_t bytes = 0;  // as the allocator hands them out (see allocation_size.h)
};

// Running sums; estimates of the unsampled figures when sampling.
struct WeightedTotals {
  double count = 0;
  double bytes = 0;
  AllocationTotals rounded() const;
};

class StackAggregator {
 public:
  // `noscan(type)` says whether a runtime type address has no pointers.
  // With a `sample_rate`, events were recorded with probability
  // 1 - exp(-size/rate), and each is weighted by the inverse: the formula of
  // Go's own heap profile (runtime/pprof scaleHeapSample) for one object.
  StackAggregator(AllocatorModel model, std::function<bool(uint64_t type)> noscan, uint64_t sample_rate = 0)
      : model_(model), noscan_(std::move(noscan)), sample_rate_(sample_rate) {}

  void add(const gotrace_alloc_event& event);

  struct Stack {
    uint64_t type;               // runtime address of the *runtime._type, 0 for none
    std::vector<uint64_t> pcs;   // runtime return addresses, leaf first
    bool truncated;
    WeightedTotals totals;
  };
  const std::vector<Stack>& stacks() const { return stacks_; }
  AllocationTotals totals() const { return totals_.rounded(); }
  uint64_t events() const { return events_; }
  uint64_t zero_size_requests() const { return zero_size_; }

 private:
  uint32_t find_or_insert(uint64_t hash, const gotrace_alloc_event& event);

  AllocatorModel model_;
  std::function<bool(uint64_t)> noscan_;
  std::unordered_map<uint64_t, bool> noscan_cache_;
  std::unordered_multimap<uint64_t, uint32_t> index_;  // content hash → stack
  std::vector<Stack> stacks_;
  uint64_t sample_rate_;
  WeightedTotals totals_;
  uint64_t events_ = 0;
  uint64_t zero_size_ = 0;
};

// A symbolized profile of one trace.
struct Location {
  uint64_t address = 0;       // runtime return address
  uint64_t file_address = 0;  // link-time address
  std::vector<Frame> frames;  // innermost first; empty when unresolved
};

struct Sample {
  std::vector<uint32_t> locations;  // indexes into Profile::locations, leaf first
  std::string type_name;            // the Go type allocated, or kRawMemory
  bool truncated = false;           // the stack was cut at the root end
  AllocationTotals totals;
};

struct Profile {
  std::vector<Location> locations;
  std::vector<Sample> samples;
  AllocationTotals totals;
};

// Symbolizes stacks one at a time, each distinct return address and type
// once, and shapes them the way Go's own heap profile does
// (runtime_stack_rules.h). build_profile() runs it over every stack at the
// end; the live view keeps one and feeds it the stacks that appeared since
// its last refresh.
//
// `translator` maps the target's runtime addresses to the binary's link-time
// addresses. Not thread-safe, and neither is the GoBinary it reads: one
// thread symbolizes at a time.
class StackSymbolizer {
 public:
  StackSymbolizer(const GoBinary& binary, AddressTranslator translator);

  struct Trimmed {
    std::vector<uint32_t> locations;  // indexes into locations(), leaf first
    std::string_view type_name;       // the Go type allocated, or kRawMemory
  };
  Trimmed trim(const StackAggregator::Stack& stack);

  // Frames point into the binary.
  const std::vector<Location>& locations() const { return locations_; }
  // Moves the locations to `profile`.
  void move_into(Profile* profile) &&;

 private:
  uint32_t location_for(uint64_t pc);
  // The location at `index` without the frames whose bits are set.
  uint32_t location_without(uint32_t index, uint64_t dropped_frames);
  std::string_view type_name(uint64_t type);

  const GoBinary& binary_;
  AddressTranslator translator_;
  RuntimeStackRules rules_;
  std::vector<Location> locations_;
  std::unordered_map<uint64_t, uint32_t> location_index_;  // by return address
  // A location without some of its frames: hidden ones, or the runtime's in
  // front of a leaf that lies inside an inlined chain.
  std::map<std::pair<uint32_t, uint64_t>, uint32_t> derived_index_;
  std::unordered_map<uint64_t, std::string> type_names_;  // by runtime type address
};

// Stacks whose keys are equal are one sample: trimming can make stacks equal
// that differed only in runtime frames.
std::string sample_key(const StackSymbolizer::Trimmed& trimmed, bool truncated);

// Symbolizes and trims every stack, and merges those that trimming made equal.
Profile build_profile(const StackAggregator& aggregator, const GoBinary& binary,
                      const AddressTranslator& translator);

// The name used for the leaf of a sample whose frames could not be resolved.
inline constexpr const char* kUnknownFunction = "[unknown]";
// The type name of memory allocated without a Go type (string bytes, for one).
inline constexpr const char* kRawMemory = "raw memory";

}  // namespace gotrace
