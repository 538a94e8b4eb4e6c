// What the screen model is fed at each refresh: running totals by call site,
// with no rates. The model computes rates from one table to the next.
//
// Names are views: into the target's binary and the live view's symbolizer
// (for the tables LiveSites makes), valid for as long as those live.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "symbolizer/pclntab.h"
#include "userspace/probe/probe_counters.h"
#include "userspace/profile/aggregator.h"
#include "userspace/profile/profile.h"

namespace gotrace {

// A call site: the leaf frame of a stack once the runtime's allocator frames
// are trimmed, as in the table printed at the end.
struct SiteTotals {
  uint32_t id = 0;  // a site keeps its id from one table to the next
  std::string_view function;
  std::string_view file;
  int64_t line = 0;
  std::string_view top_type;  // the type allocated most here, by bytes
  WeightedTotals totals;      // since attach; estimates when sampling
  // Still in use now, of what was allocated while tracing: estimated from
  // the runtime's heap-profile samples. Zero when the table does not record it.
  WeightedTotals inuse{};
  uint32_t process = 0;  // index into SiteTable::processes: a site is of one process
  std::string_view top_kind = {};  // the allocation kind most here, by bytes (profile/allocation_kind.h)
};

// A traced process, as the view names it; its index in SiteTable::processes
// is kept from one table to the next.
struct TableProcess {
  int pid = 0;
  std::string name;  // the executable's base name
  std::string path;
  std::string go_version;
  bool ended = false;
  ProbeCounts probe_counts{};
};

// "compile:12345", as the other outputs name a process.
inline std::string process_name_and_pid(const TableProcess& process) {
  return process_name_and_pid(ProcessLabel{process.pid, process.name, "", 0});
}

struct SiteTable {
  std::chrono::nanoseconds elapsed{0};  // since the probes went live
  WeightedTotals totals;                // every site together
  bool records_inuse = false;           // whether the sites' in-use figures mean anything
  WeightedTotals inuse;                 // every site together
  ProbeCounts probe_counts{};  // every process together
  std::vector<TableProcess> processes;  // in the order they were first seen
  double tracer_cpu_seconds = 0;  // gotrace's own user and system time so far
  std::vector<SiteTotals> sites;
  std::string mode_note;  // TraceSnapshot::mode_note
};

// One distinct stack that allocates at a site, for the stack view.
struct SiteStack {
  std::vector<Frame> frames;  // leaf first; inlined frames marked
  std::string_view type_name;
  bool truncated = false;  // deeper than the probe records: the root end is missing
  WeightedTotals totals;
};

// The heaviest stacks of a site; a site can have a great many (one per
// caller path), and only the first few are worth reading.
struct SiteStacks {
  std::vector<SiteStack> heaviest;  // by bytes, heaviest first
  size_t count = 0;                 // all the site's stacks
  WeightedTotals totals;            // all the site's stacks together
};

}  // namespace gotrace
