// From raw stacks to a profile: each stack symbolized and trimmed once
// (stack_symbolizer.h), and stacks that trimming made equal merged into one
// sample. The same merger serves the profile written at the end of a trace
// and the live view, which feeds it stacks as they appear.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "symbolizer/go_binary.h"
#include "symbolizer/process_maps.h"
#include "userspace/profile/profile.h"
#include "userspace/profile/stack_symbolizer.h"

namespace gotrace {

class SampleMerger {
 public:
  explicit SampleMerger(StackSymbolizer symbolizer) : symbolizer_(std::move(symbolizer)) {}

  // The index of the sample `stack` belongs to; a new sample is appended
  // the first time a trimmed stack and type are seen.
  uint32_t sample_of(const RawStack& stack);

  // Samples without totals: those are the caller's to sum.
  const std::vector<Sample>& samples() const { return samples_; }
  // Frames point into the binary.
  const std::vector<Location>& locations() const { return symbolizer_.locations(); }
  // A sample's type name, valid as long as the merger (unlike a view of
  // samples()[i].type_name, which moves as samples are added).
  std::string_view type_name(uint32_t sample) const { return type_names_[sample]; }

  // The profile, with `sums[i]` as the totals of sample i.
  Profile take_profile(const std::vector<WeightedTotals>& sums, const AllocationTotals& totals) &&;

 private:
  StackSymbolizer symbolizer_;
  std::vector<Sample> samples_;
  std::vector<std::string_view> type_names_;  // into the symbolizer's names, by sample
  std::unordered_map<std::string, uint32_t> index_;  // by trimmed locations, truncation and type
};

// Symbolizes and trims every stack, and merges those that trimming made equal.
Profile build_profile(const std::vector<RawStack>& stacks, const AllocationTotals& totals, const GoBinary& binary,
                      const AddressTranslator& translator);

}  // namespace gotrace
