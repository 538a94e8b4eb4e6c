#include "userspace/profile/profile_builder.h"

namespace gotrace {
namespace {

// Stacks whose keys are equal are one sample.
std::string sample_key(const StackSymbolizer::Trimmed& trimmed, bool truncated) {
  std::string key(reinterpret_cast<const char*>(trimmed.locations.data()), trimmed.locations.size() * sizeof(uint32_t));
  key += truncated ? '\1' : '\0';
  key += trimmed.type_name;
  return key;
}

}  // namespace

uint32_t SampleMerger::sample_of(const RawStack& stack) {
  StackSymbolizer::Trimmed trimmed = symbolizer_.trim(stack);
  auto [it, inserted] = index_.emplace(sample_key(trimmed, stack.truncated), samples_.size());
  if (inserted) {
    samples_.push_back({std::move(trimmed.locations), std::string(trimmed.type_name), stack.truncated, {}});
    type_names_.push_back(trimmed.type_name);
  }
  return it->second;
}

Profile SampleMerger::take_profile(const std::vector<WeightedTotals>& sums, const AllocationTotals& totals) && {
  Profile profile;
  profile.totals = totals;
  profile.samples = std::move(samples_);
  for (size_t i = 0; i < profile.samples.size() && i < sums.size(); ++i) profile.samples[i].totals = sums[i].rounded();
  profile.locations = std::move(symbolizer_).take_locations();
  return profile;
}

Profile build_profile(const std::vector<RawStack>& stacks, const AllocationTotals& totals, const GoBinary& binary,
                      const AddressTranslator& translator) {
  SampleMerger merger(StackSymbolizer(binary, translator));
  std::vector<WeightedTotals> sums;
  for (const RawStack& stack : stacks) {
    uint32_t sample = merger.sample_of(stack);
    if (sample == sums.size()) sums.emplace_back();
    sums[sample].add(stack.totals);
  }
  return std::move(merger).take_profile(sums, totals);
}

}  // namespace gotrace
