#include "userspace/profile/profile.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "bpf/gotrace_abi.h"

namespace gotrace {
namespace {

// Sample::depth counts the locations of one stack the probe recorded.
static_assert(GOTRACE_MAX_STACK_DEPTH <= std::numeric_limits<decltype(Sample::depth)>::max());

const Frame kUnknownFrame{"[unknown]", "", 0, 0, false};

}  // namespace

AllocationTotals WeightedTotals::rounded() const {
  // In-use sums go down as well as up: rounding errors may leave them a
  // hair below zero.
  return {static_cast<uint64_t>(std::llround(std::max(count, 0.0))),
          static_cast<uint64_t>(std::llround(std::max(bytes, 0.0)))};
}

std::span<const Frame> shown_frames(const Location& location) {
  if (location.frames.empty()) return {&kUnknownFrame, 1};
  return location.frames;
}

Sample& Profile::add_sample(std::span<const uint32_t> locations, std::string_view type_name, AllocationTotals totals,
                            bool truncated, bool merged) {
  uint32_t type = 0;
  while (type < type_names.size() && type_names[type] != type_name) ++type;
  if (type == type_names.size()) type_names.emplace_back(type_name);
  Sample& sample = samples.emplace_back();
  sample.first = uint32_t(stack_locations.size());
  // No stack the probe records is that deep; a longer one is cut to its leaf-most locations.
  locations = locations.first(std::min<size_t>(locations.size(), std::numeric_limits<decltype(Sample::depth)>::max()));
  sample.depth = uint8_t(locations.size());
  sample.type = type;
  sample.truncated = truncated;
  sample.merged = merged;
  sample.totals = totals;
  stack_locations.insert(stack_locations.end(), locations.begin(), locations.end());
  return sample;
}

std::string process_name_and_pid(const ProcessLabel& process) {
  return fmt::format("{}:{}", process.name, process.pid);
}

const Frame& leaf_frame(std::span<const uint32_t> locations, const std::vector<Location>& table) {
  if (locations.empty()) return kUnknownFrame;
  return shown_frames(table[locations.front()]).front();
}

}  // namespace gotrace
