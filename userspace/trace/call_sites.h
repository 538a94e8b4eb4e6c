// Allocation figures per call site: the leaf frame of each sample (after the
// runtime's allocator frames are trimmed), with its file and line.
#pragma once

#include <string>
#include <vector>

#include "userspace/trace/aggregator.h"

namespace gotrace {

struct CallSite {
  std::string function;
  std::string file;
  int64_t line = 0;
  AllocationTotals totals;
  std::string top_type;  // the type allocated most (by bytes) here
};

// The frame a stack is counted at: the innermost frame of its first
// location (indexes into `table`), or kUnknownFunction when that did not resolve.
Frame leaf_frame(const std::vector<uint32_t>& locations, const std::vector<Location>& table);

// Sorted by bytes, then allocations, then name.
std::vector<CallSite> call_sites(const Profile& profile);

// A plain-text table of the top `limit` sites, for a terminal or a log.
std::string format_call_site_table(const std::vector<CallSite>& sites, const AllocationTotals& totals, size_t limit);


}  // namespace gotrace
