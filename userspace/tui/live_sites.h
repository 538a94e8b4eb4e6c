// The live view's running picture of the trace, kept on the view's thread:
// each stack symbolized and merged into a sample once, when a snapshot first
// brings it (the same SampleMerger as the profile written at the end), and
// every sample's totals summed by call site at each refresh. Each traced
// process has its own symbolizer and sites (the same function in two
// processes is two sites); a process the snapshot leaves out (it ended, and
// its last figures are in) keeps the sites it had, summed no more.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "userspace/profile/call_sites.h"
#include "userspace/profile/profile_builder.h"
#include "userspace/tui/site_table.h"
#include "userspace/tui/trace_snapshot.h"

namespace gotrace {

class LiveSites {
 public:
  LiveSites();
  ~LiveSites();
  LiveSites(LiveSites&&) noexcept;
  LiveSites& operator=(LiveSites&&) noexcept;

  // Symbolizes the stacks new in `snapshot` and sums all stacks' totals by
  // site. tracer_cpu_seconds is left for the caller.
  SiteTable update(const TraceSnapshot& snapshot);

  // The `limit` heaviest (in bytes) of the distinct stacks at a site, after
  // trimming and with their type, as of the last update.
  SiteStacks stacks_at(uint32_t site_id, size_t limit) const;

 private:
  struct Process;
  struct SiteOwner {
    uint32_t process;  // index into processes_
    uint32_t site;     // the process's own site id
  };
  // The process of `snapshot`, made the first time it comes; nullptr for
  // one that comes without its symbolizer's maker (never, from the exchange).
  Process* process_of(const ProcessSnapshot& snapshot);

  std::vector<std::unique_ptr<Process>> processes_;  // in the order they came
  std::vector<uint32_t> process_of_slot_;            // index into processes_, by slot
  std::vector<SiteOwner> site_owners_;               // by site id, across processes
  bool records_inuse_ = false;
};

}  // namespace gotrace
