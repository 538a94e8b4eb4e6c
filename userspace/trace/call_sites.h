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

// "512 B", "1.2 KiB", "34.5 MiB": binary units, one decimal. `compact`
// drops the decimal from 100 up ("256 KiB"), for narrow table columns.
std::string format_bytes(uint64_t bytes, bool compact = false);
// "987", "12.3k", "1.2M": SI units, one decimal; a fraction below 10 keeps
// one decimal too ("0.5"), so that a rare site's rate does not read as 0.
std::string format_count(double count);

}  // namespace gotrace
