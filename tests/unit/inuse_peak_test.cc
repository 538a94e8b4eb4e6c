// The aggregator's in-use figures at the peak: each stack's in-use figures
// at the end of the collection cycle with the most bytes in use, kept while
// in-use falls afterwards, through the memory bound's merges, and into the
// stacks a profile is built from.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/unit/heap_events.h"
#include "userspace/profile/aggregator.h"

namespace gotrace {
namespace {

using testing::cycle_end;
using testing::free_of;
using testing::two_cycles;

// At MemProfileRate 1 every object is sampled and stands for itself: the
// figures below are whole objects and bytes.
gotrace_alloc_event sample_of(const std::vector<uint64_t>& pcs, uint64_t address, uint64_t size = 1024) {
  return testing::sample_of(pcs, address, size, 1);
}

StackAggregator aggregator(uint64_t max_bytes = 0) { return testing::inuse_aggregator(max_bytes); }

TEST(InUsePeak, EachStackKeepsItsFiguresAtThePeakWhileInUseFallsAfterwards) {
  StackAggregator a = aggregator();
  const std::vector<uint64_t> site_a{0x10, 0x20}, site_b{0x30, 0x20};
  a.add(sample_of(site_a, 0xa000));
  a.add(sample_of(site_a, 0xa400));
  a.add(sample_of(site_b, 0xb000));
  EXPECT_EQ(a.peak_cycle(), 0u);  // nothing in use at a cycle's end yet
  two_cycles(a);
  ASSERT_EQ(a.stack_count(), 2u);
  EXPECT_EQ(a.peak_cycle(), 2u);
  EXPECT_EQ(a.peak_inuse_totals().bytes, 3072u);

  // Site A lets go of everything, site B takes one more: 2 KiB in use, less
  // than the peak's 3 KiB, which stays as it was, stack by stack.
  a.add(free_of(0xa000));
  a.add(free_of(0xa400));
  a.add(sample_of(site_b, 0xb400));
  two_cycles(a);
  EXPECT_EQ(a.inuse_totals().bytes, 2048u);
  EXPECT_EQ(a.peak_cycle(), 2u);
  EXPECT_EQ(a.peak_inuse_totals().count, 3u);
  EXPECT_DOUBLE_EQ(a.stack_inuse(0).bytes, 0);
  EXPECT_DOUBLE_EQ(a.stack_peak_inuse(0).bytes, 2048);
  EXPECT_DOUBLE_EQ(a.stack_peak_inuse(0).count, 2);
  EXPECT_DOUBLE_EQ(a.stack_inuse(1).bytes, 2048);
  EXPECT_DOUBLE_EQ(a.stack_peak_inuse(1).bytes, 1024);

  // Three more at B: 5 KiB, a new peak, where A had nothing.
  for (uint64_t n = 0; n < 3; ++n) a.add(sample_of(site_b, 0xc000 + n * 0x400));
  two_cycles(a);
  EXPECT_EQ(a.peak_cycle(), 6u);
  EXPECT_EQ(a.peak_inuse_totals().bytes, 5120u);
  EXPECT_DOUBLE_EQ(a.stack_peak_inuse(0).bytes, 0);
  EXPECT_DOUBLE_EQ(a.stack_peak_inuse(1).bytes, 5120);

  // Frees between the cycles' ends are not a peak: only a cycle's end is.
  a.add(free_of(0xc000));
  a.add(cycle_end());
  EXPECT_EQ(a.peak_cycle(), 6u);
  std::vector<RawStack> stacks;
  a.drain([&](const RawStack& stack) { stacks.push_back(stack); });
  ASSERT_EQ(stacks.size(), 2u);
  EXPECT_DOUBLE_EQ(stacks[1].inuse.bytes, 4096);
  EXPECT_DOUBLE_EQ(stacks[1].peak_inuse.bytes, 5120);
}

// Sums of every stack's in-use figures, now and at the peak.
struct Sums {
  double inuse = 0, peak = 0;
};
Sums sums_of(const StackAggregator& a) {
  Sums sums;
  for (size_t id = 0; id < a.stack_count(); ++id) {
    sums.inuse += a.stack_inuse(id).bytes;
    sums.peak += a.stack_peak_inuse(id).bytes;
  }
  return sums;
}

std::vector<uint64_t> deep_stack(uint64_t n) {
  std::vector<uint64_t> pcs;
  for (uint64_t i = 0; i < 30; ++i) pcs.push_back(0x400000 + n * 0x100 + i);
  return pcs;
}

TEST(InUsePeak, StacksMergedIntoTheirCallSitesCarryTheirPeakAlong) {
  // A bound small enough that cold stacks are merged, and combined, again
  // after the peak: stacks that kept their peak aside (their objects freed
  // since) with stacks that did not.
  StackAggregator a = aggregator(64 * 1024);
  constexpr uint64_t kStacks = 2000;
  for (uint64_t n = 0; n < kStacks; ++n) a.add(sample_of(deep_stack(n), 0xc0000000 + n * 1024));
  two_cycles(a);
  ASSERT_EQ(a.peak_inuse_totals().bytes, kStacks * 1024);
  for (uint64_t n = 0; n < kStacks; n += 2) a.add(free_of(0xc0000000 + n * 1024));
  a.add(cycle_end());
  uint64_t rounds = a.merges().rounds;
  // New stacks, allocations only: the bound merges the old ones further.
  for (uint64_t n = kStacks; n < 2 * kStacks; ++n) {
    gotrace_alloc_event allocation = sample_of(deep_stack(n), 0);
    allocation.flags = 0;
    a.add(allocation);
  }
  ASSERT_GT(a.merges().rounds, rounds);
  Sums after_merge = sums_of(a);
  EXPECT_DOUBLE_EQ(after_merge.inuse, kStacks / 2 * 1024);
  EXPECT_DOUBLE_EQ(after_merge.peak, kStacks * 1024);
  EXPECT_EQ(a.peak_cycle(), 2u);

  // A new peak after the merge: every stack's peak is its in-use figures,
  // whatever it kept aside before.
  for (uint64_t n = 0; n < kStacks; ++n) a.add(sample_of(deep_stack(n), 0xd0000000 + n * 1024));
  two_cycles(a);
  EXPECT_EQ(a.peak_cycle(), 5u);
  Sums at_new_peak = sums_of(a);
  EXPECT_DOUBLE_EQ(at_new_peak.inuse, 3 * kStacks / 2 * 1024);
  EXPECT_DOUBLE_EQ(at_new_peak.peak, at_new_peak.inuse);
  for (size_t id = 0; id < a.stack_count(); ++id)
    EXPECT_DOUBLE_EQ(a.stack_peak_inuse(id).bytes, a.stack_inuse(id).bytes) << id;
}

}  // namespace
}  // namespace gotrace
