#include "userspace/tui/live_sites.h"

#include <algorithm>

namespace gotrace {

// One process's stacks, samples and sites. Its sites' rows are summed again
// only when a snapshot brings the process.
struct LiveSites::Process {
  Process(uint32_t index, std::function<StackSymbolizer()> maker)
      : index(index), make_symbolizer(std::move(maker)), merger(make_symbolizer()) {}

  void add_stack(const RawStack& stack, std::vector<SiteOwner>& owners);
  void update(const StackSnapshot& snapshot, std::vector<SiteOwner>& owners);
  void sum_sites();

  uint32_t index;
  // Holds the binary the merger's symbolizer reads: declared first, to go last.
  std::function<StackSymbolizer()> make_symbolizer;
  SampleMerger merger;
  TableProcess info;
  uint64_t generation = 0;                       // of the stack indexes below
  std::vector<uint32_t> sample_of_stack;         // by stack index
  std::vector<uint32_t> site_of_sample;          // the process's own site id, by sample index
  std::vector<WeightedTotals> sample_totals;     // by sample index, as of the last update
  std::vector<WeightedTotals> sample_inuse;      // the same, in use
  std::vector<std::vector<uint32_t>> site_samples;  // by the process's own site id
  std::vector<uint32_t> site_ids;                // the view's site id, by the process's own
  CallSiteIndex sites;
  std::vector<SiteTotals> rows;                  // as of the last update
  WeightedTotals totals, inuse;                  // every site of the process together
};

void LiveSites::Process::add_stack(const RawStack& stack, std::vector<SiteOwner>& owners) {
  uint32_t sample = merger.sample_of(stack);
  sample_of_stack.push_back(sample);
  if (sample < site_of_sample.size()) return;  // a stack that trimming made equal to an earlier one
  uint32_t site = sites.site_of(leaf_frame(merger.locations_of(sample), merger.locations()));
  if (site == site_samples.size()) {
    site_samples.emplace_back();
    site_ids.push_back(uint32_t(owners.size()));
    owners.push_back({index, site});
  }
  site_samples[site].push_back(sample);
  site_of_sample.push_back(site);
  sample_totals.emplace_back();
  sample_inuse.emplace_back();
}

void LiveSites::Process::update(const StackSnapshot& snapshot, std::vector<SiteOwner>& owners) {
  // Snapshots bring every stack once, in order (SnapshotExchange::take),
  // and every stack anew after a merge renumbered them; the samples stay.
  if (snapshot.generation != generation) {
    sample_of_stack.clear();
    generation = snapshot.generation;
  }
  for (size_t i = 0; i < snapshot.new_stacks.size(); ++i)
    if (snapshot.first_new_stack + i == sample_of_stack.size()) add_stack(snapshot.new_stacks[i], owners);

  std::fill(sample_totals.begin(), sample_totals.end(), WeightedTotals{});
  size_t known = std::min(snapshot.stack_totals.size(), sample_of_stack.size());
  for (size_t i = 0; i < known; ++i) sample_totals[sample_of_stack[i]].add(snapshot.stack_totals[i]);
  std::fill(sample_inuse.begin(), sample_inuse.end(), WeightedTotals{});
  for (const auto& [stack, in_use] : snapshot.stack_inuse)
    if (stack < sample_of_stack.size()) sample_inuse[sample_of_stack[stack]].add(in_use);
  sum_sites();
}

void LiveSites::Process::sum_sites() {
  rows.clear();
  rows.reserve(sites.size());
  totals = inuse = {};
  for (uint32_t id = 0; id < sites.size(); ++id) {
    SiteSum sum;
    WeightedTotals site_inuse;
    for (uint32_t sample : site_samples[id]) {
      sum.add(merger.type_name(sample), merger.kind(sample), sample_totals[sample]);
      site_inuse.add(sample_inuse[sample]);
    }
    // Sums of estimates added and taken away again can end a hair below zero.
    site_inuse = {std::max(0.0, site_inuse.count), std::max(0.0, site_inuse.bytes)};
    const Frame& leaf = sites.leaf(id);
    totals.add(sum.totals());
    inuse.add(site_inuse);
    rows.push_back(
        {site_ids[id], leaf.function, leaf.file, leaf.line, sum.top_type(), sum.totals(), site_inuse, index, sum.top_kind()});
  }
}

LiveSites::LiveSites() = default;
LiveSites::~LiveSites() = default;
LiveSites::LiveSites(LiveSites&&) noexcept = default;
LiveSites& LiveSites::operator=(LiveSites&&) noexcept = default;

LiveSites::Process* LiveSites::process_of(const ProcessSnapshot& snapshot) {
  if (snapshot.slot < process_of_slot_.size() && process_of_slot_[snapshot.slot] != UINT32_MAX)
    return processes_[process_of_slot_[snapshot.slot]].get();
  if (!snapshot.make_symbolizer) return nullptr;
  if (snapshot.slot >= process_of_slot_.size()) process_of_slot_.resize(snapshot.slot + 1, UINT32_MAX);
  process_of_slot_[snapshot.slot] = uint32_t(processes_.size());
  processes_.push_back(std::make_unique<Process>(uint32_t(processes_.size()), snapshot.make_symbolizer));
  return processes_.back().get();
}

SiteTable LiveSites::update(const TraceSnapshot& snapshot) {
  for (const ProcessSnapshot& brought : snapshot.processes) {
    Process* process = process_of(brought);
    if (process == nullptr) continue;
    records_inuse_ |= brought.stacks.records_inuse;
    process->info = {brought.pid, brought.name, brought.path, brought.go_version, brought.ended, brought.probe_counts};
    process->update(brought.stacks, site_owners_);
  }
  SiteTable table;
  table.elapsed = snapshot.elapsed;
  table.records_inuse = records_inuse_;
  table.mode_note = snapshot.mode_note;
  table.sites.reserve(site_owners_.size());
  for (const auto& process : processes_) {
    table.processes.push_back(process->info);
    for (size_t i = 0; i < table.probe_counts.size(); ++i) table.probe_counts[i] += process->info.probe_counts[i];
    table.totals.add(process->totals);
    table.inuse.add(process->inuse);
    table.sites.insert(table.sites.end(), process->rows.begin(), process->rows.end());
  }
  return table;
}

SiteStacks LiveSites::stacks_at(uint32_t site_id, size_t limit) const {
  SiteStacks stacks;
  if (site_id >= site_owners_.size()) return stacks;
  const Process& process = *processes_[site_owners_[site_id].process];
  std::vector<uint32_t> order = process.site_samples[site_owners_[site_id].site];
  stacks.count = order.size();
  for (uint32_t sample : order) stacks.totals.add(process.sample_totals[sample]);
  // Frames are copied for the stacks shown only.
  size_t shown = std::min(limit, order.size());
  std::partial_sort(order.begin(), order.begin() + shown, order.end(), [&](uint32_t a, uint32_t b) {
    return std::pair(process.sample_totals[a].bytes, b) > std::pair(process.sample_totals[b].bytes, a);
  });
  for (size_t i = 0; i < shown; ++i) {
    SiteStack stack;
    stack.type_name = process.merger.type_name(order[i]);
    stack.truncated = process.merger.sample(order[i]).truncated;
    stack.totals = process.sample_totals[order[i]];
    for (uint32_t location : process.merger.locations_of(order[i])) {
      std::span<const Frame> frames = shown_frames(process.merger.locations()[location]);
      stack.frames.insert(stack.frames.end(), frames.begin(), frames.end());
    }
    stacks.heaviest.push_back(std::move(stack));
  }
  return stacks;
}

}  // namespace gotrace
