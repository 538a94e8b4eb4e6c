// The aggregator's compact store and its memory bound: stacks found by
// content, handed back in order as they were, and the coldest merged into
// their call sites when the bound is reached, with every total kept.
#include "userspace/profile/aggregator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <vector>

namespace gotrace {
namespace {

constexpr size_t kSegment = 4096;  // small segments, so that tests cross them

gotrace_alloc_event event_of(const std::vector<uint64_t>& pcs, uint64_t size = 16, uint64_t type = 0x5000) {
  gotrace_alloc_event event{};
  event.size = size;
  event.type = type;
  event.stack_depth = pcs.size();
  for (size_t i = 0; i < pcs.size(); ++i) event.pcs[i] = pcs[i];
  return event;
}

// Stack `n` of `depth` frames: distinct leaf-side frames over shared roots,
// like a service's.
std::vector<uint64_t> stack_number(uint64_t n, uint32_t depth) {
  std::vector<uint64_t> pcs;
  for (uint32_t i = 0; i < depth; ++i) pcs.push_back(i < 12 ? 0x400000 + (n >> i & 1) * 0x100 + i * 0x1000 : 0x480000 + i);
  return pcs;
}

StackAggregator aggregator(uint64_t max_bytes = 0) {
  return StackAggregator(AllocatorModel{true}, [](uint64_t) { return true; }, 0, max_bytes, kSegment);
}

std::vector<RawStack> drained(StackAggregator& a) {
  std::vector<RawStack> stacks;
  a.drain([&](const RawStack& stack) { stacks.push_back(stack); });
  return stacks;
}

TEST(StackAggregator, KeysStacksByTypeAndContentInOrderOfAppearance) {
  StackAggregator a = aggregator();
  a.add(event_of({0x10, 0x20}));
  a.add(event_of({0x10, 0x20}));
  a.add(event_of({0x10, 0x20}, 16, 0x6000));  // another type
  a.add(event_of({0x10}));                    // a prefix is another stack
  a.add(event_of({0x10, 0x20}, 0));           // mallocgc(0): nothing allocated
  gotrace_alloc_event truncated = event_of({0x30, 0x40});
  truncated.flags = GOTRACE_EVENT_TRUNCATED;
  a.add(truncated);
  ASSERT_EQ(a.stack_count(), 4u);
  EXPECT_EQ(a.events(), 5u);
  EXPECT_DOUBLE_EQ(a.stack_totals(0).count, 2);
  EXPECT_DOUBLE_EQ(a.stack_totals(0).bytes, 32);
  EXPECT_EQ(a.stack(2).pcs, std::vector<uint64_t>{0x10});
  std::vector<RawStack> stacks = drained(a);
  ASSERT_EQ(stacks.size(), 4u);
  EXPECT_EQ(stacks[0].pcs, (std::vector<uint64_t>{0x10, 0x20}));
  EXPECT_EQ(stacks[1].type, 0x6000u);
  EXPECT_TRUE(stacks[3].truncated);
  EXPECT_FALSE(stacks[0].truncated || stacks[0].merged);
  EXPECT_EQ(a.stack_count(), 0u);
  EXPECT_EQ(a.totals().count, 5u);  // the totals outlive the stacks
}

TEST(StackAggregator, ManyStacksAcrossSegmentsComeBackWhole) {
  StackAggregator a = aggregator();
  constexpr uint64_t kStacks = 3000;  // ~40 frame segments, ~24 entry segments and a grown index
  for (uint64_t n = 0; n < kStacks; ++n)
    for (uint64_t repeat = 0; repeat <= n % 3; ++repeat) a.add(event_of(stack_number(n, 20 + n % 100)));
  ASSERT_EQ(a.stack_count(), kStacks);
  size_t held = a.bytes();
  // 4 bytes a frame, 48 an entry, and the index (3% of frames lost at
  // segment ends here): far below a vector and a
  // hash node per stack.
  EXPECT_LT(held, kStacks * (70 * 4 + 48 + 32));
  std::vector<RawStack> stacks = drained(a);
  ASSERT_EQ(stacks.size(), kStacks);
  for (uint64_t n = 0; n < kStacks; ++n) {
    ASSERT_EQ(stacks[n].pcs, stack_number(n, 20 + n % 100)) << n;
    ASSERT_DOUBLE_EQ(stacks[n].totals.count, double(n % 3 + 1)) << n;
  }
  EXPECT_EQ(a.bytes(), 0u);
}

TEST(StackAggregator, TheBoundMergesTheColdestIntoTheirCallSitesKeepingTotals) {
  constexpr uint64_t kBound = 64 * 1024;
  StackAggregator a = aggregator(kBound);
  // Ten hot stacks, then a long tail of cold ones, each allocating once.
  for (uint64_t n = 0; n < 10; ++n)
    for (int i = 0; i < 100; ++i) a.add(event_of(stack_number(n, 40), 4096));
  for (uint64_t n = 10; n < 4000; ++n) a.add(event_of(stack_number(n, 40)));
  EXPECT_LE(a.bytes(), kBound);
  const MergeCounts& merges = a.merges();
  EXPECT_GE(merges.rounds, 1u);
  EXPECT_GT(merges.stacks, 0u);
  EXPECT_EQ(a.generation(), merges.rounds);
  EXPECT_EQ(a.totals().count, 1000u + 3990u);
  std::vector<RawStack> stacks = drained(a);

  WeightedTotals sum, merged;
  std::map<std::vector<uint64_t>, int> merged_stacks;
  size_t hot_kept = 0;
  for (const RawStack& stack : stacks) {
    sum.add(stack.totals);
    if (stack.merged) {
      merged.add(stack.totals);
      EXPECT_LE(stack.pcs.size(), StackAggregator::kMergedFrames);
      EXPECT_GE(stack.pcs.size(), StackAggregator::kMinMergedFrames);
      // The leaf-most frames of a stack that was traced.
      for (size_t i = 0; i < stack.pcs.size(); ++i)
        EXPECT_EQ(stack.pcs[i] & ~uint64_t(0x100), 0x400000 + i * 0x1000) << i;
      EXPECT_EQ(++merged_stacks[stack.pcs], 1) << "merged stacks that are alike are one";
    } else if (stack.totals.count == 100) {
      ++hot_kept;
    }
  }
  // The totals are exact; the hot stacks keep their detail.
  EXPECT_DOUBLE_EQ(sum.count, 1000 + 3990);
  EXPECT_DOUBLE_EQ(sum.bytes, 1000 * 4096 + 3990 * 16);
  EXPECT_EQ(hot_kept, 10u);
  EXPECT_GT(merged.count, 0);
  // Cut to 8 frames, the tail's 3,990 stacks differ only in their 8 leaf-most
  // frames' bits: 256 call sites at most.
  EXPECT_LE(merged_stacks.size(), 256u);
  EXPECT_GE(merges.merged.count, double(merges.stacks));
}

TEST(StackAggregator, MergedStacksAreNotFoundByNewEvents) {
  StackAggregator a = aggregator(16 * 1024);
  for (uint64_t n = 0; n < 2000; ++n) a.add(event_of(stack_number(n, 30)));
  ASSERT_GT(a.merges().stacks, 0u);
  // A stack seen again after it was merged is a stack of its own again,
  // with all its frames, until the bound takes it too.
  size_t before = a.stack_count();
  a.add(event_of(stack_number(0, 30)));
  EXPECT_EQ(a.stack_count(), before + 1);
  EXPECT_EQ(a.stack(before).pcs, stack_number(0, 30));
  EXPECT_FALSE(a.stack(before).merged);
  EXPECT_EQ(a.totals().count, 2001u);
}

TEST(StackAggregator, ABoundTooSmallForTheCallSitesIsHeldAsCloseAsItCanBe) {
  // 2,000 stacks of 4 frames cannot be cut: the bound is overrun, rather
  // than lose a call site, and the aggregator does not sort at every stack.
  StackAggregator a = aggregator(8 * 1024);
  for (uint64_t n = 0; n < 2000; ++n) a.add(event_of({0x1000 + n, 0x2000, 0x3000, 0x4000}));
  EXPECT_EQ(a.stack_count(), 2000u);
  EXPECT_LT(a.merges().rounds, 20u);
  EXPECT_EQ(a.merges().stacks, 0u);
  EXPECT_EQ(a.totals().count, 2000u);
}

}  // namespace
}  // namespace gotrace
