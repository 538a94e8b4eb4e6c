#include "userspace/tui/trace_snapshot.h"

#include <sys/eventfd.h>

#include <cerrno>
#include <cstring>

namespace gotrace {

TraceSnapshot take_snapshot(const StackAggregator& aggregator, size_t first_new_stack) {
  TraceSnapshot snapshot;
  const std::vector<RawStack>& stacks = aggregator.stacks();
  snapshot.stack_totals.reserve(stacks.size());
  for (const RawStack& stack : stacks) snapshot.stack_totals.push_back(stack.totals);
  snapshot.first_new_stack = std::min(first_new_stack, stacks.size());
  snapshot.new_stacks.assign(stacks.begin() + snapshot.first_new_stack, stacks.end());
  return snapshot;
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
  {
    std::lock_guard lock(mutex_);
    snapshot.swap(waiting_);
  }
  if (!snapshot) return nullptr;
  // A snapshot the loop began before the view took the previous one can
  // repeat stacks already delivered.
  size_t seen = stacks_seen_.load(std::memory_order_relaxed);
  if (snapshot->first_new_stack < seen) {
    size_t repeated = std::min(seen - snapshot->first_new_stack, snapshot->new_stacks.size());
    snapshot->new_stacks.erase(snapshot->new_stacks.begin(), snapshot->new_stacks.begin() + repeated);
    snapshot->first_new_stack += repeated;
  }
  stacks_seen_.store(snapshot->first_new_stack + snapshot->new_stacks.size(), std::memory_order_release);
  return snapshot;
}

}  // namespace gotrace
