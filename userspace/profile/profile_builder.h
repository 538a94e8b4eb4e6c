// From raw stacks to a profile: each stack symbolized and trimmed once
// (stack_symbolizer.h), and stacks that trimming made equal merged into one
// sample. The same merger serves the profile written at the end of a trace
// and the live view, which feeds it stacks as they appear.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "symbolizer/go_binary.h"
#include "symbolizer/process_maps.h"
#include "userspace/profile/aggregator.h"
#include "userspace/profile/profile.h"
#include "userspace/profile/stack_symbolizer.h"

namespace gotrace {

class SampleMerger {
 public:
  explicit SampleMerger(StackSymbolizer symbolizer)
      : symbolizer_(std::move(symbolizer)), index_(0, KeyHash{&samples_}, KeyEqual{&samples_}) {}
  // The index points at samples_.
  SampleMerger(SampleMerger&&) = delete;

  // The index of the sample `stack` belongs to; a new sample is appended
  // the first time a trimmed stack and type are seen.
  uint32_t sample_of(const RawStack& stack);

  // Room for `stacks` samples, at most one a stack: a vector that doubles
  // as it grows would hold up to twice what it needs, and three times while
  // it moves.
  void reserve(size_t stacks) { samples_.reserve(stacks); }

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
  // Samples are equal when their trimmed locations, truncation, merging
  // and type are.
  struct KeyHash {
    const std::vector<Sample>* samples;
    size_t operator()(uint32_t sample) const;
  };
  struct KeyEqual {
    const std::vector<Sample>* samples;
    bool operator()(uint32_t a, uint32_t b) const;
  };

  StackSymbolizer symbolizer_;
  std::vector<Sample> samples_;
  std::vector<std::string_view> type_names_;  // into the symbolizer's names, by sample
  std::unordered_set<uint32_t, KeyHash, KeyEqual> index_;  // sample ids, by content
};

// Symbolizes and trims every stack, and merges those that trimming made equal.
Profile build_profile(const std::vector<RawStack>& stacks, const AllocationTotals& totals, const GoBinary& binary,
                      const AddressTranslator& translator);
// The same from the aggregator's stacks, which it drains: their memory is
// given back as the profile grows, so that building it adds little to what
// the trace already held.
Profile build_profile(StackAggregator& aggregator, const GoBinary& binary, const AddressTranslator& translator);

}  // namespace gotrace
