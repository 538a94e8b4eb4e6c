#include "userspace/tui/trace_snapshot.h"

#include <sys/eventfd.h>

#include <cerrno>
#include <cstring>

namespace gotrace {

TraceSnapshot take_snapshot(const StackAggregator& aggregator, size_t first_new_stack) {
  TraceSnapshot snapshot;
  size_t count = aggregator.stack_count();
  snapshot.generation = aggregator.generation();
  snapshot.records_inuse = aggregator.records_inuse();
  snapshot.stack_totals.reserve(count);
  if (snapshot.records_inuse) {
    for (size_t id = 0; id < count; ++id) {
      snapshot.stack_totals.push_back(aggregator.stack_totals(id));
      const WeightedTotals& inuse = aggregator.stack_inuse(id);
      if (inuse.count != 0 || inuse.bytes != 0) snapshot.stack_inuse.emplace_back(uint32_t(id), inuse);
    }
  } else {
    for (size_t id = 0; id < count; ++id) snapshot.stack_totals.push_back(aggregator.stack_totals(id));
  }
  snapshot.first_new_stack = std::min(first_new_stack, count);
  snapshot.new_stacks.reserve(count - snapshot.first_new_stack);
  for (size_t id = snapshot.first_new_stack; id < count; ++id) snapshot.new_stacks.push_back(aggregator.stack(id));
  return snapshot;
}

size_t SnapshotExchange::first_unseen_stack(uint64_t generation) const {
  std::lock_guard lock(mutex_);
  return generation == generation_seen_ ? stacks_seen_ : 0;
}

Result<std::unique_ptr<SnapshotExchange>> SnapshotExchange::create() {
  Fd ready(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (ready.get() < 0) return make_error("cannot create an eventfd: {}", std::strerror(errno));
  return std::unique_ptr<SnapshotExchange>(new SnapshotExchange(std::move(ready)));
}

void SnapshotExchange::publish(std::unique_ptr<TraceSnapshot> snapshot) {
  {
    std::lock_guard lock(mutex_);
    waiting_.swap(snapshot);
  }
  // `snapshot` now holds any the view did not take; it is freed here, outside the lock.
  uint64_t one = 1;
  // Fails only when the counter is already huge: the view is woken either way.
  (void)!write(ready_.get(), &one, sizeof(one));
}

std::unique_ptr<TraceSnapshot> SnapshotExchange::take() {
  uint64_t count;
  (void)!read(ready_.get(), &count, sizeof(count));  // resets the counter; EAGAIN when nothing waits
  std::unique_ptr<TraceSnapshot> snapshot;
  size_t repeated = 0;
  {
    std::lock_guard lock(mutex_);
    snapshot.swap(waiting_);
    if (!snapshot) return nullptr;
    // A snapshot of stacks renumbered by a merge starts over; one the loop
    // began before the view took the previous one can repeat stacks
    // already delivered.
    if (snapshot->generation != generation_seen_) {
      generation_seen_ = snapshot->generation;
      stacks_seen_ = 0;
    }
    if (snapshot->first_new_stack < stacks_seen_)
      repeated = std::min(stacks_seen_ - snapshot->first_new_stack, snapshot->new_stacks.size());
    stacks_seen_ = snapshot->first_new_stack + snapshot->new_stacks.size();
  }
  snapshot->new_stacks.erase(snapshot->new_stacks.begin(), snapshot->new_stacks.begin() + repeated);
  snapshot->first_new_stack += repeated;
  return snapshot;
}

}  // namespace gotrace
