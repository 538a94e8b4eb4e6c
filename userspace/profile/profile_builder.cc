#include "userspace/profile/profile_builder.h"

#include <algorithm>
#include <bit>
#include <string_view>

namespace gotrace {

size_t SampleMerger::hash_of(uint32_t sample) const {
  const Sample& s = profile_.samples[sample];
  std::span<const uint32_t> locations = profile_.locations_of(s);
  std::string_view bytes(reinterpret_cast<const char*>(locations.data()), locations.size_bytes());
  size_t hash = std::hash<std::string_view>()(bytes) ^ size_t(s.type) * 0x9e3779b97f4a7c15 ^ size_t(s.kind) << 40;
  return hash ^ (size_t(s.truncated) << 1 | size_t(s.merged));
}

bool SampleMerger::same(uint32_t a, uint32_t b) const {
  const Sample& x = profile_.samples[a];
  const Sample& y = profile_.samples[b];
  if (x.type != y.type || x.kind != y.kind || x.truncated != y.truncated || x.merged != y.merged || x.depth != y.depth) return false;
  std::span<const uint32_t> p = profile_.locations_of(x), q = profile_.locations_of(y);
  return std::equal(p.begin(), p.end(), q.begin());
}

uint32_t SampleMerger::name_id(std::vector<std::string_view>& views,
                               std::unordered_map<std::string_view, uint32_t>& ids, std::string_view name) {
  auto [it, inserted] = ids.emplace(name, views.size());
  if (inserted) views.push_back(name);
  return it->second;
}

void SampleMerger::grow_index() {
  std::vector<uint32_t>().swap(index_);
  index_.resize(std::max<size_t>(1024, std::bit_ceil(profile_.samples.size() * 2)));
  size_t mask = index_.size() - 1;
  for (uint32_t id = 0; id + 1 < profile_.samples.size(); ++id) {  // the candidate, last, is not in yet
    size_t slot = hash_of(id) & mask;
    while (index_[slot] != 0) slot = (slot + 1) & mask;
    index_[slot] = id + 1;
  }
}

void SampleMerger::reserve(size_t stacks, size_t frames) {
  profile_.samples.reserve(stacks);
  profile_.stack_locations.reserve(frames);
}

uint32_t SampleMerger::sample_of(const RawStack& stack) {
  // The candidate goes at the end, where the index's hash and equality
  // read it; it stays only when it is new.
  StackSymbolizer::Trimmed trimmed = symbolizer_.trim(stack);
  uint32_t candidate = profile_.samples.size();
  Sample& sample = profile_.samples.emplace_back();
  sample.first = uint32_t(profile_.stack_locations.size());
  sample.depth = uint8_t(trimmed.locations.size());  // at most the raw stack's: see Sample::depth
  sample.type = name_id(type_views_, type_ids_, trimmed.type_name);
  sample.kind = uint16_t(name_id(kind_views_, kind_ids_, trimmed.kind));  // a runtime function each: few
  sample.truncated = stack.truncated;
  sample.merged = stack.merged;
  profile_.stack_locations.insert(profile_.stack_locations.end(), trimmed.locations.begin(), trimmed.locations.end());
  if (profile_.samples.size() * 4 > index_.size() * 3) grow_index();
  size_t mask = index_.size() - 1;
  for (size_t slot = hash_of(candidate) & mask;; slot = (slot + 1) & mask) {
    if (index_[slot] == 0) {
      index_[slot] = candidate + 1;
      return candidate;
    }
    if (same(index_[slot] - 1, candidate)) {
      profile_.stack_locations.resize(profile_.samples.back().first);
      profile_.samples.pop_back();
      return index_[slot] - 1;
    }
  }
}

Profile SampleMerger::take_profile(const std::vector<Figures>& figures, const AllocationTotals& totals) && {
  std::vector<uint32_t>().swap(index_);
  Profile profile = std::move(profile_);
  profile.totals = totals;
  for (size_t i = 0; i < profile.samples.size() && i < figures.size(); ++i) {
    profile.samples[i].totals = figures[i].totals.rounded();
    profile.samples[i].inuse = figures[i].inuse.rounded();
    profile.samples[i].peak_inuse = figures[i].peak_inuse.rounded();
  }
  profile.type_names.assign(type_views_.begin(), type_views_.end());
  profile.kind_names.assign(kind_views_.begin(), kind_views_.end());
  profile.locations = std::move(symbolizer_).take_locations();
  return profile;
}

namespace {

// Merges each stack `for_each_stack` hands over into its sample.
Profile build(const std::function<void(const std::function<void(const RawStack&)>&)>& for_each_stack,
              size_t stacks, size_t frames, const AllocationTotals& totals, const GoBinary& binary,
              const AddressTranslator& translator, ProcessLabel process, Mapping mapping) {
  SampleMerger merger(StackSymbolizer(binary, translator));
  merger.reserve(stacks, frames);
  std::vector<SampleMerger::Figures> figures;
  figures.reserve(stacks);
  for_each_stack([&](const RawStack& stack) {
    uint32_t sample = merger.sample_of(stack);
    if (sample == figures.size()) figures.emplace_back();
    figures[sample].totals.add(stack.totals);
    figures[sample].inuse.add(stack.inuse);
    figures[sample].peak_inuse.add(stack.peak_inuse);
  });
  Profile profile = std::move(merger).take_profile(figures, totals);
  // Every sample is of process 0 and every location of mapping 0, as built.
  process.mapping = 0;
  profile.processes.push_back(std::move(process));
  profile.mappings.push_back(std::move(mapping));
  return profile;
}

}  // namespace

Profile build_profile(const std::vector<RawStack>& stacks, const AllocationTotals& totals, const GoBinary& binary,
                      const AddressTranslator& translator, ProcessLabel process, Mapping mapping) {
  auto each = [&](const std::function<void(const RawStack&)>& use) {
    for (const RawStack& stack : stacks) use(stack);
  };
  size_t frames = 0;
  for (const RawStack& stack : stacks) frames += stack.pcs.size();
  return build(each, stacks.size(), frames, totals, binary, translator, std::move(process), std::move(mapping));
}

Profile build_profile(StackAggregator& aggregator, const GoBinary& binary, const AddressTranslator& translator,
                      ProcessLabel process, Mapping mapping) {
  auto each = [&](const std::function<void(const RawStack&)>& use) { aggregator.drain(use); };
  bool has_inuse = aggregator.records_inuse();
  AllocationTotals inuse = aggregator.inuse_totals();
  Profile profile = build(each, aggregator.stack_count(), aggregator.frame_count(), aggregator.totals(), binary,
                          translator, std::move(process), std::move(mapping));
  profile.has_inuse = has_inuse;
  profile.inuse = inuse;
  return profile;
}

}  // namespace gotrace
