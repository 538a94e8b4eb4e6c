// Snapshots of the trace, handed over by the event loop to the live view.
#include "userspace/tui/trace_snapshot.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace gotrace {
namespace {

RawStack stack(std::vector<uint64_t> pcs) { return {0, std::move(pcs), false, {}}; }

// A snapshot of process slot `slot` (and of no other).
std::unique_ptr<TraceSnapshot> snapshot(size_t first_new, size_t new_count, size_t total, uint32_t slot = 0) {
  auto s = std::make_unique<TraceSnapshot>();
  ProcessSnapshot& process = s->processes.emplace_back();
  process.slot = slot;
  process.stacks.first_new_stack = first_new;
  for (size_t i = 0; i < new_count; ++i) process.stacks.new_stacks.push_back(stack({0x1000 + first_new + i}));
  process.stacks.stack_totals.resize(total);
  return s;
}

// What the view has of process `slot`.
SnapshotExchange::ProcessSeen seen(const SnapshotExchange& exchange, uint32_t slot = 0) {
  auto all = exchange.seen();
  return slot < all.size() ? all[slot] : SnapshotExchange::ProcessSeen{};
}

TEST(SnapshotExchange, HandsOverOnlyWhatWasAskedAndNothingTwice) {
  auto exchange = SnapshotExchange::create();
  ASSERT_TRUE(exchange) << exchange.error().message;
  SnapshotExchange& x = **exchange;
  EXPECT_FALSE(x.requested());
  x.request();
  EXPECT_TRUE(x.requested());
  EXPECT_FALSE(x.requested());  // one request, one snapshot
  EXPECT_EQ(x.take(), nullptr);

  // Two snapshots before the view takes one: the second replaces the first,
  // and starts from the same unseen stack, so it carries every new stack.
  x.publish(snapshot(seen(x).first_unseen_stack(0), 2, 2));
  x.publish(snapshot(seen(x).first_unseen_stack(0), 3, 3));
  auto taken = x.take();
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(taken->processes[0].stacks.first_new_stack, 0u);
  EXPECT_EQ(taken->processes[0].stacks.new_stacks.size(), 3u);
  EXPECT_EQ(seen(x).first_unseen_stack(0), 3u);
  EXPECT_EQ(x.take(), nullptr);

  // A snapshot begun before the view took the previous one repeats stacks
  // it already has; they are left out.
  x.publish(snapshot(1, 4, 5));
  taken = x.take();
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(taken->processes[0].stacks.first_new_stack, 3u);
  ASSERT_EQ(taken->processes[0].stacks.new_stacks.size(), 2u);
  EXPECT_EQ(taken->processes[0].stacks.new_stacks[0].pcs[0], 0x1003u);
  EXPECT_EQ(seen(x).first_unseen_stack(0), 5u);
}

TEST(SnapshotExchange, AMergeStartsTheStacksOver) {
  auto exchange = SnapshotExchange::create();
  ASSERT_TRUE(exchange) << exchange.error().message;
  SnapshotExchange& x = **exchange;
  x.publish(snapshot(0, 4, 4));
  ASSERT_NE(x.take(), nullptr);
  EXPECT_EQ(seen(x).first_unseen_stack(0), 4u);
  // Stacks renumbered by a merge: the view has none of them yet.
  EXPECT_EQ(seen(x).first_unseen_stack(1), 0u);
  auto renumbered = snapshot(0, 3, 3);
  renumbered->processes[0].stacks.generation = 1;
  x.publish(std::move(renumbered));
  auto taken = x.take();
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(taken->processes[0].stacks.first_new_stack, 0u);
  EXPECT_EQ(taken->processes[0].stacks.new_stacks.size(), 3u);
  EXPECT_EQ(seen(x).first_unseen_stack(1), 3u);
  EXPECT_EQ(seen(x).first_unseen_stack(0), 0u);
}

TEST(SnapshotExchange, KeepsTrackOfEachProcessApart) {
  auto exchange = SnapshotExchange::create();
  ASSERT_TRUE(exchange) << exchange.error().message;
  SnapshotExchange& x = **exchange;
  int made = 0;
  // Never called: the exchange hands makers over, the view calls them.
  auto maker = [&made]() -> StackSymbolizer {
    ++made;
    std::abort();
  };
  // Slot 2 first appears, with its symbolizer's maker; slot 0 has stacks.
  auto first = snapshot(0, 2, 2, 0);
  first->processes.push_back(snapshot(0, 1, 1, 2)->processes[0]);
  first->processes[1].make_symbolizer = maker;
  x.publish(std::move(first));
  auto taken = x.take();
  ASSERT_NE(taken, nullptr);
  EXPECT_TRUE(bool(taken->processes[1].make_symbolizer));
  EXPECT_TRUE(seen(x, 2).introduced);
  EXPECT_FALSE(seen(x, 1).introduced);
  EXPECT_EQ(seen(x, 0).first_unseen_stack(0), 2u);
  EXPECT_EQ(seen(x, 2).first_unseen_stack(0), 1u);

  // A snapshot begun before that was taken brings the maker again: it is
  // dropped, and so are the stacks the view has. Slot 2 has ended.
  auto again = snapshot(0, 3, 3, 2);
  again->processes[0].make_symbolizer = maker;
  again->processes[0].ended = true;
  x.publish(std::move(again));
  taken = x.take();
  ASSERT_NE(taken, nullptr);
  ASSERT_EQ(taken->processes.size(), 1u);
  EXPECT_FALSE(bool(taken->processes[0].make_symbolizer));
  EXPECT_EQ(taken->processes[0].stacks.first_new_stack, 1u);
  EXPECT_EQ(taken->processes[0].stacks.new_stacks.size(), 2u);
  // The view has its last figures: the event loop leaves it out from now on.
  EXPECT_TRUE(seen(x, 2).final);
  EXPECT_FALSE(seen(x, 0).final);
  EXPECT_EQ(seen(x, 0).first_unseen_stack(0), 2u);
  EXPECT_EQ(made, 0) << "the exchange never makes a symbolizer";
}

TEST(SnapshotExchange, SnapshotCopiesTotalsAndOnlyNewStacks) {
  StackAggregator aggregator(AllocatorModel{true}, [](uint64_t) { return true; });
  gotrace_alloc_event event{};
  event.size = 32;
  event.stack_depth = 1;
  for (uint64_t pc : {0x10, 0x20, 0x20, 0x30}) {
    event.pcs[0] = pc;
    aggregator.add(event);
  }
  StackSnapshot s = take_snapshot(aggregator, 1);
  ASSERT_EQ(s.stack_totals.size(), 3u);
  EXPECT_DOUBLE_EQ(s.stack_totals[1].count, 2);
  EXPECT_EQ(s.first_new_stack, 1u);
  ASSERT_EQ(s.new_stacks.size(), 2u);
  EXPECT_EQ(s.new_stacks[0].pcs, std::vector<uint64_t>{0x20});
}

TEST(SnapshotExchange, SnapshotCopiesInuseOnlyWhenRecorded) {
  auto sample = [](uint64_t pc, uint64_t address) {
    gotrace_alloc_event event{};
    event.flags = GOTRACE_EVENT_HEAP_SAMPLE;
    event.size = 64;
    event.sample_rate = 1;  // every object sampled: each stands for itself
    event.address = address;
    event.stack_depth = 1;
    event.pcs[0] = pc;
    return event;
  };
  gotrace_alloc_event free_event{};
  free_event.flags = GOTRACE_EVENT_HEAP_FREE;
  free_event.address = 0xa000;

  StackAggregator recording(AllocatorModel{true}, [](uint64_t) { return true; });
  recording.set_records_inuse(true);
  gotrace_alloc_event free_other = free_event;
  free_other.address = 0xb000;
  gotrace_alloc_event cycle_end{};  // two of them: the objects sampled before count
  cycle_end.flags = GOTRACE_EVENT_HEAP_CYCLE;
  for (auto event : {sample(0x10, 0xa000), sample(0x10, 0xa100), sample(0x20, 0xb000), sample(0x30, 0xc000),
                     cycle_end, cycle_end, free_event, free_other})
    recording.add(event);
  StackSnapshot s = take_snapshot(recording, 0);
  EXPECT_TRUE(s.records_inuse);
  ASSERT_EQ(s.stack_totals.size(), 3u);
  EXPECT_DOUBLE_EQ(s.stack_totals[0].bytes, 128);  // allocated
  EXPECT_DOUBLE_EQ(s.stack_totals[1].bytes, 64);
  // Only the stacks with memory in use: 0x20's one object was freed.
  ASSERT_EQ(s.stack_inuse.size(), 2u);
  EXPECT_EQ(s.stack_inuse[0].first, 0u);
  EXPECT_DOUBLE_EQ(s.stack_inuse[0].second.bytes, 64);  // of 0x10's two objects, one was freed
  EXPECT_DOUBLE_EQ(s.stack_inuse[0].second.count, 1);
  EXPECT_EQ(s.stack_inuse[1].first, 2u);
  EXPECT_DOUBLE_EQ(s.stack_inuse[1].second.bytes, 64);

  // A trace that records no in-use figures hands over none: not zeros.
  StackAggregator exact(AllocatorModel{true}, [](uint64_t) { return true; });
  gotrace_alloc_event event{};
  event.size = 32;
  event.stack_depth = 1;
  event.pcs[0] = 0x10;
  exact.add(event);
  s = take_snapshot(exact, 0);
  EXPECT_FALSE(s.records_inuse);
  EXPECT_TRUE(s.stack_inuse.empty());
  EXPECT_EQ(s.stack_totals.size(), 1u);
}

}  // namespace
}  // namespace gotrace
