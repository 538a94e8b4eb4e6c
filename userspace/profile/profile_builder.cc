#include "userspace/profile/profile_builder.h"

#include <string_view>

namespace gotrace {

size_t SampleMerger::KeyHash::operator()(uint32_t sample) const {
  const Sample& s = (*samples)[sample];
  std::string_view bytes(reinterpret_cast<const char*>(s.locations.data()), s.locations.size() * sizeof(uint32_t));
  size_t hash = std::hash<std::string_view>()(bytes) ^ std::hash<std::string_view>()(s.type_name) * 31;
  return hash ^ (size_t(s.truncated) << 1 | size_t(s.merged));
}

bool SampleMerger::KeyEqual::operator()(uint32_t a, uint32_t b) const {
  const Sample& x = (*samples)[a];
  const Sample& y = (*samples)[b];
  return x.locations == y.locations && x.truncated == y.truncated && x.merged == y.merged && x.type_name == y.type_name;
}

uint32_t SampleMerger::sample_of(const RawStack& stack) {
  // The candidate goes at the end, where the index's hash and equality
  // read it; it stays only when it is new. The index holds ids, not copies.
  StackSymbolizer::Trimmed trimmed = symbolizer_.trim(stack);
  uint32_t candidate = samples_.size();
  samples_.push_back({std::move(trimmed.locations), std::string(trimmed.type_name), stack.truncated, {}, stack.merged});
  auto [it, inserted] = index_.insert(candidate);
  if (!inserted) {
    samples_.pop_back();
    return *it;
  }
  samples_.back().locations.shrink_to_fit();
  type_names_.push_back(trimmed.type_name);
  return candidate;
}

Profile SampleMerger::take_profile(const std::vector<WeightedTotals>& sums, const AllocationTotals& totals) && {
  decltype(index_)(0, KeyHash{&samples_}, KeyEqual{&samples_}).swap(index_);  // its nodes and buckets, freed
  Profile profile;
  profile.totals = totals;
  profile.samples = std::move(samples_);
  for (size_t i = 0; i < profile.samples.size() && i < sums.size(); ++i) profile.samples[i].totals = sums[i].rounded();
  profile.locations = std::move(symbolizer_).take_locations();
  return profile;
}

namespace {

// Merges each stack `for_each_stack` hands over into its sample.
Profile build(const std::function<void(const std::function<void(const RawStack&)>&)>& for_each_stack,
              size_t stacks, const AllocationTotals& totals, const GoBinary& binary,
              const AddressTranslator& translator) {
  SampleMerger merger(StackSymbolizer(binary, translator));
  merger.reserve(stacks);
  std::vector<WeightedTotals> sums;
  sums.reserve(stacks);
  for_each_stack([&](const RawStack& stack) {
    uint32_t sample = merger.sample_of(stack);
    if (sample == sums.size()) sums.emplace_back();
    sums[sample].add(stack.totals);
  });
  return std::move(merger).take_profile(sums, totals);
}

}  // namespace

Profile build_profile(const std::vector<RawStack>& stacks, const AllocationTotals& totals, const GoBinary& binary,
                      const AddressTranslator& translator) {
  auto each = [&](const std::function<void(const RawStack&)>& use) {
    for (const RawStack& stack : stacks) use(stack);
  };
  return build(each, stacks.size(), totals, binary, translator);
}

Profile build_profile(StackAggregator& aggregator, const GoBinary& binary, const AddressTranslator& translator) {
  auto each = [&](const std::function<void(const RawStack&)>& use) { aggregator.drain(use); };
  return build(each, aggregator.stack_count(), aggregator.totals(), binary, translator);
}

}  // namespace gotrace
