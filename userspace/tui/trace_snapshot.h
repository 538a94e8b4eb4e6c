// What the event loop hands the live view, and how.
//
// The event loop owns a StackAggregator per traced process and must never
// wait for the screen. When the view asks (an atomic flag the loop reads on
// every turn), the loop copies what is cheap to copy: the running totals of
// every stack of every process still traced, and the stacks themselves only
// where the view has not seen them yet. A process that ended is copied until
// the view has its last figures, then never again: a build traced with
// --follow has hundreds of processes over its life, most of them done. It
// then swaps the copy into a one-slot mailbox under a mutex held for a
// pointer swap, and wakes the view through an eventfd. Rates are the view's
// business: it subtracts one snapshot from the next.
//
// In-use totals are copied in the same pass over the stacks' entries (they
// sit next to the allocation totals), and only for the stacks that have
// memory in use: with the runtime's sampler, that is a small share of them.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/fd.h"
#include "base/result.h"
#include "userspace/probe/probe_counters.h"
#include "userspace/profile/aggregator.h"
#include "userspace/profile/stack_symbolizer.h"

namespace gotrace {

// One process's stacks, as its aggregator has them.
struct StackSnapshot {
  // Stack indexes hold within a generation; a merge (--max-memory) renumbers
  // the stacks, and the first snapshot of the next generation brings every
  // stack anew.
  uint64_t generation = 0;
  std::vector<WeightedTotals> stack_totals;  // by stack index, every stack so far
  // Whether the trace records memory in use (StackAggregator::records_inuse):
  // when it does not, the view shows no in-use figures rather than zeros.
  bool records_inuse = false;
  // (stack index, in use) for every stack with memory in use, by index; a
  // stack left out has none.
  std::vector<std::pair<uint32_t, WeightedTotals>> stack_inuse;
  // new_stacks[i] is stack first_new_stack + i. Their own totals are stale:
  // stack_totals has the figures.
  size_t first_new_stack = 0;
  std::vector<RawStack> new_stacks;
};

// One traced process (an image: a process between two execs, a slot of the
// probe) as the view is handed it.
struct ProcessSnapshot {
  uint32_t slot = 0;
  int pid = 0;
  std::string name;        // the executable's base name
  std::string path;        // the executable, as the process sees it
  std::string go_version;
  bool ended = false;      // exited or exec'd: its figures are final
  StackSnapshot stacks;
  ProbeCounts probe_counts{};
  // Set the first time the process is handed over: makes its symbolizer, on
  // the view's thread (the event loop never symbolizes). It holds what the
  // symbolizer reads (the binary's plan), so the view keeps it as long as
  // the symbolizer.
  std::function<StackSymbolizer()> make_symbolizer{};
  // Set with make_symbolizer, for what writes a profile of the process's
  // stacks (the agent's interval profiles): symbolizes `stacks` into a
  // profile labelled with the process and its executable's mapping. Holds
  // the binary's plan as make_symbolizer does.
  std::function<Profile(const std::vector<RawStack>& stacks, const AllocationTotals& totals)> make_profile{};
  std::string container;      // its cgroup, "" in the root cgroup or unknown
  uint64_t events = 0;        // events taken from the probe so far (samples and frees alike)
  uint64_t heap_rate = 0;     // the MemProfileRate of its last heap sample; 0 before one
  // What tracing costs it, as a fraction of its own CPU time, over the last
  // reading (trace/process_cost.h); negative until first read.
  double overhead = -1;
};

struct TraceSnapshot {
  std::chrono::nanoseconds elapsed{0};  // since the probes went live
  // The processes with something new for the view, by slot: a process that
  // ended and whose last figures the view has is left out, and keeps them.
  std::vector<ProcessSnapshot> processes;
  // How the figures are taken now, in a few words for the header ("exact",
  // "estimates: heap samples every 512 KiB", "exact → heap samples at 12s"),
  // filled by the session; empty: as TraceInfo::mode said at the start.
  std::string mode_note;
  bool final = false;  // tracing has ended: no snapshot follows
};

// The stacks from `first_new_stack` on, and every stack's totals (and
// in-use totals, when recorded).
StackSnapshot take_snapshot(const StackAggregator& aggregator, size_t first_new_stack);

class SnapshotExchange {
 public:
  // Fails only when no eventfd can be made.
  static Result<std::unique_ptr<SnapshotExchange>> create();

  // ---- the view's side
  // Asks for a snapshot at the event loop's next turn.
  void request() { requested_.store(true, std::memory_order_relaxed); }
  // Readable while a snapshot waits to be taken.
  int ready_fd() const { return ready_.get(); }
  // The waiting snapshot, if any. Stacks it holds that an earlier snapshot
  // already delivered are left out, and so is a make_symbolizer already
  // handed over.
  std::unique_ptr<TraceSnapshot> take();

  // ---- the event loop's side
  // Whether the view asked since the last call.
  bool requested() { return requested_.exchange(false, std::memory_order_relaxed); }
  // What the view has of each process, by slot (a copy, taken under the
  // lock once per snapshot).
  struct ProcessSeen {
    bool introduced = false;  // the view has its make_symbolizer
    bool final = false;       // the view has its figures since it ended
    uint64_t generation = 0;  // of the stacks below
    size_t stacks = 0;        // of that generation
    // The first stack of `at` the view has not been handed yet: 0 when
    // the view has none of that generation.
    size_t first_unseen_stack(uint64_t at) const { return at == generation ? stacks : 0; }
  };
  std::vector<ProcessSeen> seen() const;
  // Replaces any snapshot the view has not taken: the new one starts from
  // the same unseen stack, so nothing is lost.
  void publish(std::unique_ptr<TraceSnapshot> snapshot);

 private:
  explicit SnapshotExchange(Fd ready) : ready_(std::move(ready)) {}

  std::atomic<bool> requested_{false};
  mutable std::mutex mutex_;  // guards what follows, held for a few words' copy
  std::unique_ptr<TraceSnapshot> waiting_;
  std::vector<ProcessSeen> seen_;  // by slot, as of the last snapshot taken
  Fd ready_;
};

}  // namespace gotrace
