// From raw stacks to a profile: each stack symbolized and trimmed once
// (stack_symbolizer.h), and stacks that trimming made equal merged into one
// sample. The same merger serves the profile written at the end of a trace
// and the live view, which feeds it stacks as they appear.
#pragma once

#include <cstdint>
#include <string>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "symbolizer/go_binary.h"
#include "symbolizer/process_maps.h"
#include "userspace/profile/aggregator.h"
#include "userspace/profile/profile.h"
#include "userspace/profile/stack_symbolizer.h"

namespace gotrace {

class SampleMerger {
 public:
  explicit SampleMerger(StackSymbolizer symbolizer) : symbolizer_(std::move(symbolizer)) {}

  // The index of the sample `stack` belongs to; a new sample is appended
  // the first time a trimmed stack and type are seen.
  uint32_t sample_of(const RawStack& stack);

  // Room for `stacks` samples of `frames` locations in all, the most they
  // can take (trimming only removes): arrays that double as they grow would
  // hold up to twice what they need, and three times while they move. Pages
  // reserved and never written take no memory.
  void reserve(size_t stacks, size_t frames);

  size_t size() const { return profile_.samples.size(); }
  // Without totals: those are the caller's to sum.
  const Sample& sample(uint32_t id) const { return profile_.samples[id]; }
  std::span<const uint32_t> locations_of(uint32_t sample) const {
    return profile_.locations_of(profile_.samples[sample]);
  }
  // Frames point into the binary.
  const std::vector<Location>& locations() const { return symbolizer_.locations(); }
  // A sample's type name, valid as long as the merger.
  std::string_view type_name(uint32_t sample) const { return type_views_[profile_.samples[sample].type]; }
  // A sample's allocation kind (allocation_kind.h), valid as long as the merger.
  std::string_view kind(uint32_t sample) const { return kind_views_[profile_.samples[sample].kind]; }

  // What the stacks of one sample add up to.
  struct Figures {
    WeightedTotals totals, inuse, peak_inuse;
  };
  // The profile, with `figures[i]` as the figures of sample i.
  Profile take_profile(const std::vector<Figures>& figures, const AllocationTotals& totals) &&;

 private:
  // The index of a name in a table of names the symbolizer holds.
  static uint32_t name_id(std::vector<std::string_view>& views, std::unordered_map<std::string_view, uint32_t>& ids,
                          std::string_view name);
  // Samples are equal when their trimmed locations, truncation, merging,
  // type and kind are.
  size_t hash_of(uint32_t sample) const;
  bool same(uint32_t a, uint32_t b) const;
  void grow_index();

  StackSymbolizer symbolizer_;
  // Samples and their locations as they are found; type_names and locations
  // are filled in by take_profile.
  Profile profile_;
  std::vector<std::string_view> type_views_;  // by type id, into the symbolizer's names
  std::unordered_map<std::string_view, uint32_t> type_ids_;
  std::vector<std::string_view> kind_views_;  // by kind id, the same way
  std::unordered_map<std::string_view, uint32_t> kind_ids_;
  // Open addressing, by content: slots of sample id + 1, 0 for empty, a
  // power of two of them. The index holds ids, not copies.
  std::vector<uint32_t> index_;
};

// Symbolizes and trims every stack, and merges those that trimming made equal:
// the profile of one process, `process`, whose executable `binary` is mapped
// as `mapping` (the profile's one process and one mapping; process.mapping
// is set to it). Profiles of several processes are combined by
// profile_combiner.h.
Profile build_profile(const std::vector<RawStack>& stacks, const AllocationTotals& totals, const GoBinary& binary,
                      const AddressTranslator& translator, ProcessLabel process, Mapping mapping);
// The same from the aggregator's stacks, which it drains: their memory is
// given back as the profile grows, so that building it adds little to what
// the trace already held.
Profile build_profile(StackAggregator& aggregator, const GoBinary& binary, const AddressTranslator& translator,
                      ProcessLabel process, Mapping mapping);

}  // namespace gotrace
