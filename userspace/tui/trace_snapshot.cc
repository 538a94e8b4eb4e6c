#include "userspace/tui/trace_snapshot.h"

#include <sys/eventfd.h>

#include <cerrno>
#include <cstring>

namespace gotrace {

StackSnapshot take_snapshot(const StackAggregator& aggregator, size_t first_new_stack) {
  StackSnapshot snapshot;
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

std::vector<SnapshotExchange::ProcessSeen> SnapshotExchange::seen() const {
  std::lock_guard lock(mutex_);
  return seen_;
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

namespace {

// Notes what the view gets of `process`, and drops from it what the view
// already has. Returns how many stacks at its start repeat delivered ones.
size_t deliver(SnapshotExchange::ProcessSeen& seen, ProcessSnapshot& process) {
  StackSnapshot& stacks = process.stacks;
  // A snapshot of stacks renumbered by a merge starts over; one the loop
  // began before the view took the previous one can repeat stacks already
  // delivered.
  if (stacks.generation != seen.generation) {
    seen.generation = stacks.generation;
    seen.stacks = 0;
  }
  size_t repeated = 0;
  if (stacks.first_new_stack < seen.stacks)
    repeated = std::min(seen.stacks - stacks.first_new_stack, stacks.new_stacks.size());
  seen.stacks = stacks.first_new_stack + stacks.new_stacks.size();
  if (seen.introduced) {
    process.make_symbolizer = nullptr;
    process.make_profile = nullptr;
  }
  seen.introduced |= bool(process.make_symbolizer);
  seen.final |= process.ended;
  return repeated;
}

}  // namespace

std::unique_ptr<TraceSnapshot> SnapshotExchange::take() {
  uint64_t count;
  (void)!read(ready_.get(), &count, sizeof(count));  // resets the counter; EAGAIN when nothing waits
  std::unique_ptr<TraceSnapshot> snapshot;
  std::vector<size_t> repeated;
  {
    std::lock_guard lock(mutex_);
    snapshot.swap(waiting_);
    if (!snapshot) return nullptr;
    for (ProcessSnapshot& process : snapshot->processes) {
      if (process.slot >= seen_.size()) seen_.resize(process.slot + 1);
      repeated.push_back(deliver(seen_[process.slot], process));
    }
  }
  // The stacks are dropped outside the lock.
  for (size_t i = 0; i < repeated.size(); ++i) {
    StackSnapshot& stacks = snapshot->processes[i].stacks;
    stacks.new_stacks.erase(stacks.new_stacks.begin(), stacks.new_stacks.begin() + repeated[i]);
    stacks.first_new_stack += repeated[i];
  }
  return snapshot;
}

}  // namespace gotrace
