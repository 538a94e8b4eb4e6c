#include "userspace/agent/interval_profiles.h"

#include <algorithm>
#include <set>
#include <unordered_map>

namespace gotrace {
namespace {

// A stack's identity within a process: what the aggregator keys it by.
struct StackKey {
  uint64_t type;
  bool truncated, merged;
  std::vector<uint64_t> pcs;
  bool operator==(const StackKey&) const = default;
};
struct StackKeyHash {
  size_t operator()(const StackKey& key) const {
    size_t hash = std::hash<uint64_t>()(key.type) ^ (key.truncated ? 0x9e37 : 0) ^ (key.merged ? 0x7f4a : 0);
    for (uint64_t pc : key.pcs) hash = hash * 1099511628211u ^ std::hash<uint64_t>()(pc);
    return hash;
  }
};

StackKey key_of(const RawStack& stack, size_t frames) {
  return {stack.type, stack.truncated, stack.merged,
          std::vector<uint64_t>(stack.pcs.begin(), stack.pcs.begin() + std::min(frames, stack.pcs.size()))};
}

// The difference of two running sums; never below zero, as rounding of
// estimates could make it.
WeightedTotals since(const WeightedTotals& now, const WeightedTotals& before) {
  return {std::max(0.0, now.count - before.count), std::max(0.0, now.bytes - before.bytes)};
}

}  // namespace

void IntervalProfiles::renumber(Known& known, const StackSnapshot& snapshot) {
  // The new generation brings every stack; each old one is found as itself,
  // or else as the merged stack it was cut to (the longest that fits).
  std::unordered_map<StackKey, size_t, StackKeyHash> index;
  std::set<size_t> merged_lengths;
  for (size_t i = 0; i < snapshot.new_stacks.size(); ++i) {
    const RawStack& stack = snapshot.new_stacks[i];
    index.emplace(key_of(stack, stack.pcs.size()), i);
    if (stack.merged) merged_lengths.insert(stack.pcs.size());
  }
  std::vector<RawStack> stacks = snapshot.new_stacks;
  for (RawStack& stack : stacks) stack.totals = {};
  for (const RawStack& old : known.stacks) {
    auto found = index.find(key_of(old, old.pcs.size()));
    for (auto length = merged_lengths.rbegin(); found == index.end() && length != merged_lengths.rend(); ++length) {
      if (*length > old.pcs.size()) continue;
      StackKey cut = key_of(old, *length);
      cut.merged = true;
      found = index.find(cut);
    }
    if (found != index.end()) stacks[found->second].totals.add(old.totals);
  }
  known.stacks = std::move(stacks);
  known.generation = snapshot.generation;
}

ProcessInterval IntervalProfiles::interval_of(Known& known, ProcessSnapshot& process) {
  StackSnapshot& snapshot = process.stacks;
  if (snapshot.generation != known.generation && snapshot.first_new_stack == 0) {
    renumber(known, snapshot);
  } else {
    for (size_t i = 0; i < snapshot.new_stacks.size(); ++i) {
      size_t id = snapshot.first_new_stack + i;
      if (id >= known.stacks.size()) known.stacks.resize(id + 1);
      known.stacks[id] = std::move(snapshot.new_stacks[i]);
      known.stacks[id].totals = {};
    }
  }
  std::vector<WeightedTotals> inuse(known.stacks.size());
  for (const auto& [id, totals] : snapshot.stack_inuse)
    if (id < inuse.size()) inuse[id] = totals;

  std::vector<RawStack> interval;
  WeightedTotals allocated;
  for (size_t id = 0; id < known.stacks.size() && id < snapshot.stack_totals.size(); ++id) {
    RawStack& stack = known.stacks[id];
    WeightedTotals added = since(snapshot.stack_totals[id], stack.totals);
    stack.totals = snapshot.stack_totals[id];
    if (added.count == 0 && inuse[id].count == 0) continue;
    RawStack& taken = interval.emplace_back();
    taken.type = stack.type;
    taken.pcs = stack.pcs;
    taken.truncated = stack.truncated;
    taken.merged = stack.merged;
    taken.totals = added;
    taken.inuse = inuse[id];
    allocated.add(added);
  }

  ProcessInterval result;
  result.slot = process.slot;
  result.pid = process.pid;
  result.name = process.name;
  result.path = process.path;
  result.container = process.container;
  result.go_version = process.go_version;
  result.ended = process.ended;
  result.allocated = allocated.rounded();
  result.events = process.events;
  result.heap_rate = process.heap_rate;
  result.overhead = process.overhead;
  result.probe_counts = process.probe_counts;
  if (known.make_profile) {
    result.profile = known.make_profile(interval, result.allocated);
    result.profile.has_inuse = snapshot.records_inuse;
    WeightedTotals inuse_sum;
    for (const RawStack& stack : interval) inuse_sum.add(stack.inuse);
    result.profile.inuse = inuse_sum.rounded();
  }
  return result;
}

std::vector<ProcessInterval> IntervalProfiles::take(TraceSnapshot& snapshot) {
  std::vector<ProcessInterval> intervals;
  for (ProcessSnapshot& process : snapshot.processes) {
    Known& known = processes_[process.slot];
    if (process.make_profile) known.make_profile = std::move(process.make_profile);
    intervals.push_back(interval_of(known, process));
    if (process.ended) processes_.erase(process.slot);
  }
  return intervals;
}

}  // namespace gotrace
