// The agent's interval profiles: the difference of two snapshots' running
// figures, per stack, with the in-use figures at the interval's end, and no
// stack counted twice when the memory bound merges stacks between them.
#include "userspace/agent/interval_profiles.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace gotrace {
namespace {

RawStack stack(uint64_t type, std::vector<uint64_t> pcs, bool merged = false) {
  RawStack raw;
  raw.type = type;
  raw.pcs = std::move(pcs);
  raw.merged = merged;
  return raw;
}

// What the profiles were made of, stack by first pc and type: the
// interval's allocations and what is in use.
using Figures = std::pair<double, double>;  // (allocations, in use)
struct Seen {
  std::map<std::pair<uint64_t, uint64_t>, Figures> stacks;  // by (type, leaf pc)
  Figures of(uint64_t type, uint64_t pc) const {
    auto found = stacks.find({type, pc});
    return found == stacks.end() ? Figures(-1, -1) : found->second;
  }
};

ProcessSnapshot process(uint32_t slot, Seen* seen, bool introduce) {
  ProcessSnapshot snapshot;
  snapshot.slot = slot;
  snapshot.pid = 100 + int(slot);
  snapshot.name = "orders";
  snapshot.stacks.records_inuse = true;
  if (introduce)
    snapshot.make_profile = [seen](const std::vector<RawStack>& stacks, const AllocationTotals&) {
      seen->stacks.clear();
      for (const RawStack& raw : stacks) seen->stacks[{raw.type, raw.pcs.front()}] = {raw.totals.count, raw.inuse.count};
      return Profile{};
    };
  return snapshot;
}

TEST(IntervalProfiles, EachIntervalHoldsWhatWasAllocatedSinceTheLastAndWhatIsInUseNow) {
  IntervalProfiles intervals;
  Seen seen;
  TraceSnapshot first;
  ProcessSnapshot p = process(0, &seen, true);
  p.stacks.new_stacks = {stack(1, {10, 11, 12}), stack(2, {20, 11, 12})};
  p.stacks.stack_totals = {{10, 100}, {5, 50}};
  p.stacks.stack_inuse = {{1, {2, 20}}};
  first.processes.push_back(std::move(p));
  auto taken = intervals.take(first);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].allocated.count, 15u);
  EXPECT_EQ(seen.of(1, 10), Figures(10, 0));
  EXPECT_EQ(seen.of(2, 20), Figures(5, 2));

  // Stack 1 allocated nothing and holds nothing now: it is left out.
  TraceSnapshot second;
  p = process(0, &seen, false);
  p.stacks.first_new_stack = 2;
  p.stacks.new_stacks = {stack(3, {30, 11, 12})};
  p.stacks.stack_totals = {{15, 150}, {5, 50}, {2, 20}};
  second.processes.push_back(std::move(p));
  taken = intervals.take(second);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].allocated.count, 7u);
  EXPECT_EQ(seen.stacks.size(), 2u);
  EXPECT_EQ(seen.of(1, 10), Figures(5, 0));
  EXPECT_EQ(seen.of(3, 30), Figures(2, 0));
}

TEST(IntervalProfiles, AMergeBetweenTwoIntervalsDoesNotCountTheMergedStacksPastAgain) {
  IntervalProfiles intervals;
  Seen seen;
  TraceSnapshot first;
  ProcessSnapshot p = process(0, &seen, true);
  p.stacks.new_stacks = {stack(1, {10, 11, 12}), stack(1, {10, 11, 13}), stack(2, {20, 21})};
  p.stacks.stack_totals = {{10, 100}, {5, 50}, {4, 40}};
  first.processes.push_back(std::move(p));
  (void)intervals.take(first);

  // The two stacks of type 1 were cut to their leaf frame, merged into one;
  // since, that one allocated 3 more, and the other stack 1.
  TraceSnapshot second;
  p = process(0, &seen, false);
  p.stacks.generation = 1;
  p.stacks.new_stacks = {stack(2, {20, 21}), stack(1, {10}, true)};
  p.stacks.stack_totals = {{5, 50}, {18, 180}};
  second.processes.push_back(std::move(p));
  auto taken = intervals.take(second);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].allocated.count, 4u);
  EXPECT_EQ(seen.of(1, 10), Figures(3, 0));
  EXPECT_EQ(seen.of(2, 20), Figures(1, 0));
}

TEST(IntervalProfiles, AProcessThatEndedHasItsLastIntervalAndIsForgotten) {
  IntervalProfiles intervals;
  Seen seen;
  TraceSnapshot first;
  ProcessSnapshot p = process(3, &seen, true);
  p.stacks.new_stacks = {stack(1, {10})};
  p.stacks.stack_totals = {{1, 8}};
  first.processes.push_back(std::move(p));
  (void)intervals.take(first);
  EXPECT_EQ(intervals.processes(), 1u);
  TraceSnapshot last;
  p = process(3, &seen, false);
  p.ended = true;
  p.stacks.first_new_stack = 1;
  p.stacks.stack_totals = {{4, 32}};
  last.processes.push_back(std::move(p));
  auto taken = intervals.take(last);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_TRUE(taken[0].ended);
  EXPECT_EQ(taken[0].pid, 103);
  EXPECT_EQ(taken[0].allocated.count, 3u);
  EXPECT_EQ(intervals.processes(), 0u);
}

}  // namespace
}  // namespace gotrace
