#include "userspace/tui/live_sites.h"

#include <algorithm>

namespace gotrace {

LiveSites::LiveSites(StackSymbolizer symbolizer) : merger_(std::move(symbolizer)) {}

void LiveSites::add_stack(const RawStack& stack) {
  uint32_t sample = merger_.sample_of(stack);
  sample_of_stack_.push_back(sample);
  if (sample < site_of_sample_.size()) return;  // a stack that trimming made equal to an earlier one
  uint32_t site = sites_.site_of(leaf_frame(merger_.locations_of(sample), merger_.locations()));
  if (site == site_samples_.size()) site_samples_.emplace_back();
  site_samples_[site].push_back(sample);
  site_of_sample_.push_back(site);
  sample_totals_.emplace_back();
  sample_inuse_.emplace_back();
}

SiteTable LiveSites::update(const TraceSnapshot& snapshot) {
  // Snapshots bring every stack once, in order (SnapshotExchange::take),
  // and every stack anew after a merge renumbered them; the samples stay.
  if (snapshot.generation != generation_) {
    sample_of_stack_.clear();
    generation_ = snapshot.generation;
  }
  for (size_t i = 0; i < snapshot.new_stacks.size(); ++i)
    if (snapshot.first_new_stack + i == sample_of_stack_.size()) add_stack(snapshot.new_stacks[i]);

  std::fill(sample_totals_.begin(), sample_totals_.end(), WeightedTotals{});
  size_t known = std::min(snapshot.stack_totals.size(), sample_of_stack_.size());
  for (size_t i = 0; i < known; ++i) sample_totals_[sample_of_stack_[i]].add(snapshot.stack_totals[i]);
  std::fill(sample_inuse_.begin(), sample_inuse_.end(), WeightedTotals{});
  for (const auto& [stack, inuse] : snapshot.stack_inuse)
    if (stack < sample_of_stack_.size()) sample_inuse_[sample_of_stack_[stack]].add(inuse);

  SiteTable table;
  table.elapsed = snapshot.elapsed;
  table.probe_counts = snapshot.probe_counts;
  table.records_inuse = snapshot.records_inuse;
  table.mode_note = snapshot.mode_note;
  table.sites.reserve(sites_.size());
  for (uint32_t id = 0; id < sites_.size(); ++id) {
    SiteSum sum;
    WeightedTotals inuse;
    for (uint32_t sample : site_samples_[id]) {
      sum.add(merger_.type_name(sample), sample_totals_[sample]);
      inuse.add(sample_inuse_[sample]);
    }
    // Sums of estimates added and taken away again can end a hair below zero.
    inuse = {std::max(0.0, inuse.count), std::max(0.0, inuse.bytes)};
    const Frame& leaf = sites_.leaf(id);
    table.totals.add(sum.totals());
    table.inuse.add(inuse);
    table.sites.push_back({id, leaf.function, leaf.file, leaf.line, sum.top_type(), sum.totals(), inuse});
  }
  return table;
}

SiteStacks LiveSites::stacks_at(uint32_t site_id, size_t limit) const {
  SiteStacks stacks;
  if (site_id >= sites_.size()) return stacks;
  std::vector<uint32_t> order = site_samples_[site_id];
  stacks.count = order.size();
  for (uint32_t sample : order) stacks.totals.add(sample_totals_[sample]);
  // Frames are copied for the stacks shown only.
  size_t shown = std::min(limit, order.size());
  std::partial_sort(order.begin(), order.begin() + shown, order.end(), [&](uint32_t a, uint32_t b) {
    return std::pair(sample_totals_[a].bytes, b) > std::pair(sample_totals_[b].bytes, a);
  });
  for (size_t i = 0; i < shown; ++i) {
    SiteStack stack;
    stack.type_name = merger_.type_name(order[i]);
    stack.truncated = merger_.sample(order[i]).truncated;
    stack.totals = sample_totals_[order[i]];
    for (uint32_t location : merger_.locations_of(order[i])) {
      std::span<const Frame> frames = shown_frames(merger_.locations()[location]);
      stack.frames.insert(stack.frames.end(), frames.begin(), frames.end());
    }
    stacks.heaviest.push_back(std::move(stack));
  }
  return stacks;
}

}  // namespace gotrace
