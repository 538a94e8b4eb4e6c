#include "userspace/tui/live_sites.h"

#include <algorithm>

#include "userspace/trace/call_sites.h"

namespace gotrace {

uint32_t LiveSites::sample_for(const StackAggregator::Stack& stack) {
  StackSymbolizer::Trimmed trimmed = symbolizer_.trim(stack);
  auto [it, inserted] = sample_index_.emplace(sample_key(trimmed, stack.truncated), samples_.size());
  if (!inserted) return it->second;
  Frame leaf = leaf_frame(trimmed.locations, symbolizer_.locations());
  auto [site, new_site] = site_index_.emplace(std::tuple{leaf.function, leaf.file, leaf.line}, sites_.size());
  if (new_site) sites_.push_back({leaf, {}});
  sites_[site->second].samples.push_back(it->second);
  samples_.push_back({std::move(trimmed.locations), trimmed.type_name, stack.truncated, site->second, {}});
  return it->second;
}

SiteTable LiveSites::update(const TraceSnapshot& snapshot) {
  // Snapshots bring every stack once, in order (SnapshotExchange::take).
  for (size_t i = 0; i < snapshot.new_stacks.size(); ++i)
    if (snapshot.first_new_stack + i == sample_of_stack_.size())
      sample_of_stack_.push_back(sample_for(snapshot.new_stacks[i]));

  for (Sample& sample : samples_) sample.totals = {};
  size_t known = std::min(snapshot.stack_totals.size(), sample_of_stack_.size());
  for (size_t i = 0; i < known; ++i) {
    WeightedTotals& totals = samples_[sample_of_stack_[i]].totals;
    totals.count += snapshot.stack_totals[i].count;
    totals.bytes += snapshot.stack_totals[i].bytes;
  }

  SiteTable table;
  table.elapsed = snapshot.elapsed;
  table.probe_counts = snapshot.probe_counts;
  table.sites.reserve(sites_.size());
  std::vector<std::pair<std::string_view, double>> type_bytes;
  for (uint32_t id = 0; id < sites_.size(); ++id) {
    const Site& site = sites_[id];
    SiteTotals totals{id, site.leaf.function, site.leaf.file, site.leaf.line, "", {}};
    type_bytes.clear();
    for (uint32_t index : site.samples) {
      const Sample& sample = samples_[index];
      totals.totals.count += sample.totals.count;
      totals.totals.bytes += sample.totals.bytes;
      auto type = std::find_if(type_bytes.begin(), type_bytes.end(),
                               [&](const auto& entry) { return entry.first == sample.type_name; });
      if (type == type_bytes.end()) type_bytes.emplace_back(sample.type_name, sample.totals.bytes);
      else type->second += sample.totals.bytes;
    }
    auto top = std::max_element(type_bytes.begin(), type_bytes.end(),
                                [](const auto& a, const auto& b) { return a.second < b.second; });
    if (top != type_bytes.end()) totals.top_type = top->first;
    table.totals.count += totals.totals.count;
    table.totals.bytes += totals.totals.bytes;
    table.sites.push_back(totals);
  }
  return table;
}

SiteStacks LiveSites::stacks_at(uint32_t site_id, size_t limit) const {
  SiteStacks stacks;
  if (site_id >= sites_.size()) return stacks;
  std::vector<uint32_t> order = sites_[site_id].samples;
  stacks.count = order.size();
  for (uint32_t index : order) {
    stacks.totals.count += samples_[index].totals.count;
    stacks.totals.bytes += samples_[index].totals.bytes;
  }
  // Frames are copied for the stacks shown only.
  size_t shown = std::min(limit, order.size());
  std::partial_sort(order.begin(), order.begin() + shown, order.end(), [&](uint32_t a, uint32_t b) {
    return std::pair(samples_[a].totals.bytes, b) > std::pair(samples_[b].totals.bytes, a);
  });
  const std::vector<Location>& locations = symbolizer_.locations();
  for (size_t i = 0; i < shown; ++i) {
    const Sample& sample = samples_[order[i]];
    SiteStack stack;
    stack.type_name = sample.type_name;
    stack.truncated = sample.truncated;
    stack.totals = sample.totals;
    for (uint32_t location : sample.locations) {
      const std::vector<Frame>& frames = locations[location].frames;
      if (frames.empty()) stack.frames.push_back({kUnknownFunction, "", 0, 0, false});
      stack.frames.insert(stack.frames.end(), frames.begin(), frames.end());
    }
    stacks.heaviest.push_back(std::move(stack));
  }
  return stacks;
}

}  // namespace gotrace
