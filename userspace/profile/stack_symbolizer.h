// Symbolization of raw stacks, shaped the way Go's own heap profile shapes
// them (runtime_stack_rules.h): the runtime's allocator frames trimmed at
// the leaf, wrapper frames hidden, the stack ended where the runtime's
// unwinder ends it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "symbolizer/go_binary.h"
#include "symbolizer/process_maps.h"
#include "userspace/profile/profile.h"
#include "userspace/profile/runtime_stack_rules.h"

namespace gotrace {

// Symbolizes stacks one at a time, each distinct return address and type
// once, and shapes them the way Go's own heap profile does
// (runtime_stack_rules.h). SampleMerger (profile_builder.h) runs it over
// every stack, at the end of a trace and in the live view as stacks appear.
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
    std::string_view kind;            // allocation_kind.h; "" when the frames do not say
  };
  Trimmed trim(const RawStack& stack);

  // Frames point into the binary.
  const std::vector<Location>& locations() const { return locations_; }
  // Hands over the locations, for a profile.
  std::vector<Location> take_locations() && { return std::move(locations_); }

 private:
  uint32_t location_for(uint64_t pc);
  // The location at `index` without the frames whose bits are set.
  uint32_t location_without(uint32_t index, uint64_t dropped_frames);
  std::string_view type_name(uint64_t type);
  // The kind of the allocation of a stack whose locations are `raw`.
  std::string_view kind_of(const std::vector<uint32_t>& raw, std::string_view type_name);
  // The function a location's call instruction calls: "" when it is not a
  // direct call (Go calls the allocator with CALL rel32).
  std::string_view callee_of(uint32_t location);

  const GoBinary& binary_;
  AddressTranslator translator_;
  RuntimeStackRules rules_;
  std::vector<Location> locations_;
  std::unordered_map<uint64_t, uint32_t> location_index_;  // by return address
  // A location without some of its frames: hidden ones, or the runtime's in
  // front of a leaf that lies inside an inlined chain.
  std::map<std::pair<uint32_t, uint64_t>, uint32_t> derived_index_;
  std::unordered_map<uint64_t, std::string> type_names_;  // by runtime type address
  std::unordered_map<uint32_t, std::string_view> callees_;  // by location
  std::set<std::string, std::less<>> kinds_;  // the kinds seen, which Trimmed::kind points into
};

}  // namespace gotrace
