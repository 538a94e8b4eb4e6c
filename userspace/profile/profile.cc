#include "userspace/profile/profile.h"

#include <cmath>

namespace gotrace {
namespace {

const Frame kUnknownFrame{"[unknown]", "", 0, 0, false};

}  // namespace

AllocationTotals WeightedTotals::rounded() const {
  return {static_cast<uint64_t>(std::llround(count)), static_cast<uint64_t>(std::llround(bytes))};
}

std::span<const Frame> shown_frames(const Location& location) {
  if (location.frames.empty()) return {&kUnknownFrame, 1};
  return location.frames;
}

const Frame& leaf_frame(const std::vector<uint32_t>& locations, const std::vector<Location>& table) {
  if (locations.empty()) return kUnknownFrame;
  return shown_frames(table[locations.front()]).front();
}

}  // namespace gotrace
