// Allocation figures per call site: the leaf frame of each sample (after the
// runtime's allocator frames are trimmed), with its file and line. The
// table printed at the end of a trace and the live view sum sites here.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "userspace/profile/profile.h"

namespace gotrace {

// Call sites by leaf frame (function, file, line), each with an id that
// stays the same as sites are added. Names are views into the frames given.
class CallSiteIndex {
 public:
  uint32_t site_of(const Frame& leaf);
  const Frame& leaf(uint32_t site) const { return leaves_[site]; }
  size_t size() const { return leaves_.size(); }

 private:
  std::vector<Frame> leaves_;
  std::map<std::tuple<std::string_view, std::string_view, int64_t>, uint32_t> index_;
};

// Of the names added with their bytes, the one with the most bytes.
class TopByBytes {
 public:
  void add(std::string_view name, double bytes);
  std::string_view top() const;

 private:
  std::vector<std::pair<std::string_view, double>> bytes_;  // a site has few types and kinds
};

// A site's samples summed, with the type and the allocation kind most
// allocated there by bytes.
class SiteSum {
 public:
  void add(std::string_view type, std::string_view kind, const WeightedTotals& totals);
  const WeightedTotals& totals() const { return totals_; }
  std::string_view top_type() const { return types_.top(); }
  std::string_view top_kind() const { return kinds_.top(); }

 private:
  WeightedTotals totals_;
  TopByBytes types_, kinds_;
};

struct CallSite {
  std::string process;  // NAME:PID in a profile of several processes; "" in one of one
  std::string function;
  std::string file;
  int64_t line = 0;
  AllocationTotals totals;
  std::string top_type;  // the type allocated most (by bytes) here
  std::string top_kind;  // the allocation kind most (by bytes) here; "" when the stacks do not say
};

// Sorted by bytes, then allocations, then name. In a profile of several
// processes, a site is of one process: each process's sites are its own.
std::vector<CallSite> call_sites(const Profile& profile);

// A plain-text table of the top `limit` sites, for a terminal or a log;
// with a PROCESS column when the sites name their processes, and the kind
// of allocation after the type.
std::string format_call_site_table(const std::vector<CallSite>& sites, const AllocationTotals& totals, size_t limit);

}  // namespace gotrace
