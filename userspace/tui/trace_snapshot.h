// What the event loop hands the live view, and how.
//
// The event loop owns the StackAggregator and must never wait for the
// screen. When the view asks (an atomic flag the loop reads on every turn),
// the loop copies what is cheap to copy: the running totals of every stack,
// and the stacks themselves only where the view has not seen them yet. It
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
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/fd.h"
#include "base/result.h"
#include "userspace/probe/probe_counters.h"
#include "userspace/profile/aggregator.h"

namespace gotrace {

struct TraceSnapshot {
  std::chrono::nanoseconds elapsed{0};       // since the probes went live
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
  ProbeCounts probe_counts{};
  // How the figures are taken now, in a few words for the header ("exact",
  // "estimates: heap samples every 512 KiB", "exact → heap samples at 12s"),
  // filled by the session; empty: as TraceInfo::mode said at the start.
  std::string mode_note;
  bool final = false;  // tracing has ended: no snapshot follows
};

// The stacks from `first_new_stack` on, and every stack's totals (and
// in-use totals, when recorded).
TraceSnapshot take_snapshot(const StackAggregator& aggregator, size_t first_new_stack);

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
  // already delivered are left out.
  std::unique_ptr<TraceSnapshot> take();

  // ---- the event loop's side
  // Whether the view asked since the last call.
  bool requested() { return requested_.exchange(false, std::memory_order_relaxed); }
  // The first stack of `generation` the view has not been handed yet: 0
  // when the view has none of that generation.
  size_t first_unseen_stack(uint64_t generation) const;
  // Replaces any snapshot the view has not taken: the new one starts from
  // the same unseen stack, so nothing is lost.
  void publish(std::unique_ptr<TraceSnapshot> snapshot);

 private:
  explicit SnapshotExchange(Fd ready) : ready_(std::move(ready)) {}

  std::atomic<bool> requested_{false};
  mutable std::mutex mutex_;  // guards what follows, held for a few words' copy
  std::unique_ptr<TraceSnapshot> waiting_;
  uint64_t generation_seen_ = 0;  // of the last snapshot taken
  size_t stacks_seen_ = 0;        // of that generation
  Fd ready_;
};

}  // namespace gotrace
