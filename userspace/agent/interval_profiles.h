// From the trace's running figures to one profile per process per interval:
// what the agent writes and pushes.
//
// The event loop hands snapshots of every process's stacks with their
// totals since tracing began (tui/trace_snapshot.h). An interval's profile
// holds, per stack, what was allocated since the previous snapshot (the
// difference of the two), and what is in use at the interval's end (the
// runtime's heap-profile samples not yet freed). Stacks with neither are
// left out, so a quiet process's profile is small.
//
// When the memory bound (--max-memory) merged stacks, the snapshot numbers
// them anew: each earlier stack is found again in the new numbering, as
// itself or as the stack it was cut to (its leaf-most frames, marked
// merged), and what it had counted is subtracted there, so that a merge
// never counts a stack's past again.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "userspace/profile/profile.h"
#include "userspace/tui/trace_snapshot.h"

namespace gotrace {

// One process's interval.
struct ProcessInterval {
  uint32_t slot = 0;
  int pid = 0;
  std::string name;        // the executable's base name
  std::string path;        // the executable, as the process sees it
  std::string container;   // its cgroup; "" for none
  std::string go_version;
  bool ended = false;      // the process is gone: its last interval
  Profile profile;         // the interval's allocations; in use at its end
  AllocationTotals allocated;  // the interval's allocations, all stacks
  uint64_t events = 0;     // taken from the probe, since tracing began
  uint64_t heap_rate = 0;  // the process's MemProfileRate, as its last heap sample said
  double overhead = -1;    // what tracing cost it, as last measured; negative when not
  ProbeCounts probe_counts{};
};

class IntervalProfiles {
 public:
  // The interval of every process the snapshot brings that allocated or
  // holds memory since the last call (and of every process that ended:
  // its last). Ended processes are forgotten after.
  std::vector<ProcessInterval> take(TraceSnapshot& snapshot);

  size_t processes() const { return processes_.size(); }

 private:
  struct Known {
    std::function<Profile(const std::vector<RawStack>&, const AllocationTotals&)> make_profile;
    uint64_t generation = 0;
    // Every stack of the generation, with its totals as of the last interval.
    std::vector<RawStack> stacks;
  };
  // Earlier figures carried over to a new generation's numbering.
  static void renumber(Known& known, const StackSnapshot& snapshot);
  ProcessInterval interval_of(Known& known, ProcessSnapshot& process);

  std::map<uint32_t, Known> processes_;  // by slot
};

}  // namespace gotrace
