// The aggregator's in-use figures: heap-profile samples scaled as Go scales
// its heap profile, counted in use until their object is freed, through the
// memory bound's merges.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "tests/unit/heap_events.h"
#include "userspace/profile/aggregator.h"

namespace gotrace {
namespace {

using testing::cycle_end;
using testing::free_of;
using testing::two_cycles;

constexpr uint64_t kRate = 524288;

gotrace_alloc_event sample_of(const std::vector<uint64_t>& pcs, uint64_t address, uint64_t size, uint32_t flags = 0) {
  return testing::sample_of(pcs, address, size, kRate, flags);
}

StackAggregator aggregator(uint64_t max_bytes = 0) { return testing::inuse_aggregator(max_bytes); }

double weight(uint64_t size) { return 1 / (1 - std::exp(-double(size) / double(kRate))); }

TEST(InUse, ASampleIsAnEstimatedAllocationInUseUntilFreed) {
  StackAggregator a = aggregator();
  a.add(sample_of({0x10, 0x20}, 0xc000, 1024));
  a.add(sample_of({0x10, 0x20}, 0xd000, 1024));
  ASSERT_EQ(a.stack_count(), 1u);
  EXPECT_DOUBLE_EQ(a.stack_totals(0).count, 2 * weight(1024));
  EXPECT_DOUBLE_EQ(a.stack_totals(0).bytes, 2 * weight(1024) * 1024);
  two_cycles(a);
  EXPECT_DOUBLE_EQ(a.stack_inuse(0).bytes, 2 * weight(1024) * 1024);
  EXPECT_EQ(a.live_objects(), 2u);
  a.add(free_of(0xc000));
  EXPECT_DOUBLE_EQ(a.stack_inuse(0).count, weight(1024));
  EXPECT_DOUBLE_EQ(a.stack_totals(0).count, 2 * weight(1024));  // allocated stays allocated
  EXPECT_EQ(a.inuse_totals().bytes, uint64_t(std::llround(weight(1024) * 1024)));
  EXPECT_EQ(a.live_objects(), 1u);
}

TEST(InUse, AnObjectCountsOnceTwoCollectionCyclesHaveEndedAsInGosProfile) {
  // Garbage not swept yet is not in use: an object sampled in cycle c is
  // known alive, or freed, once cycles c and c+1 have ended.
  StackAggregator a = aggregator();
  a.add(sample_of({0x10}, 0xc000, 1024));
  a.add(cycle_end());
  a.add(sample_of({0x10}, 0xd000, 1024));
  EXPECT_EQ(a.inuse_totals().count, 0u);
  EXPECT_EQ(a.pending_objects(), 2u);
  a.add(cycle_end());
  EXPECT_DOUBLE_EQ(a.stack_inuse(0).count, weight(1024));  // the first only
  a.add(free_of(0xd000));  // the second was garbage: never counted
  a.add(cycle_end());
  EXPECT_DOUBLE_EQ(a.stack_inuse(0).count, weight(1024));
  EXPECT_EQ(a.pending_objects(), 0u);
  EXPECT_EQ(a.live_objects(), 1u);
  EXPECT_EQ(a.cycles(), 3u);
}

TEST(InUse, FreesOfObjectsSampledBeforeTracingAreCountedApart) {
  StackAggregator a = aggregator();
  a.add(free_of(0xe000));
  EXPECT_EQ(a.frees_of_earlier_objects(), 1u);
  EXPECT_EQ(a.inuse_totals().count, 0u);
  EXPECT_EQ(a.stack_count(), 0u);
}

TEST(InUse, ASampleAlsoTracedExactlyCountsForInUseOnly) {
  StackAggregator a = aggregator();
  a.add(sample_of({0x10}, 0xc000, 4096, GOTRACE_EVENT_ALSO_EXACT));
  two_cycles(a);
  EXPECT_DOUBLE_EQ(a.stack_totals(0).count, 0);
  EXPECT_EQ(a.events(), 0u);
  EXPECT_DOUBLE_EQ(a.stack_inuse(0).count, weight(4096));
}

TEST(InUse, AnAddressSampledAgainWasFreedUnseen) {
  StackAggregator a = aggregator();
  a.add(sample_of({0x10}, 0xc000, 64));
  two_cycles(a);
  a.add(sample_of({0x30}, 0xc000, 64));
  two_cycles(a);
  EXPECT_EQ(a.live_objects(), 1u);
  EXPECT_DOUBLE_EQ(a.stack_inuse(0).count, 0);
  EXPECT_DOUBLE_EQ(a.stack_inuse(1).count, weight(64));
}

TEST(InUse, LiveObjectsFollowTheirStacksThroughMerges) {
  // A bound small enough that the cold stacks below are merged, and
  // renumbered, several times while their objects live.
  StackAggregator a = aggregator(64 * 1024);
  constexpr uint64_t kStacks = 3000;
  for (uint64_t n = 0; n < kStacks; ++n) {
    std::vector<uint64_t> pcs;
    for (uint64_t i = 0; i < 30; ++i) pcs.push_back(0x400000 + n * 0x100 + i);
    a.add(sample_of(pcs, 0xc0000000 + n * 64, 64));
  }
  ASSERT_GE(a.merges().rounds, 1u);
  two_cycles(a);
  for (uint64_t n = 0; n < kStacks; n += 2) a.add(free_of(0xc0000000 + n * 64));
  EXPECT_EQ(a.live_objects(), kStacks / 2);
  double sum = 0;
  for (size_t id = 0; id < a.stack_count(); ++id) {
    EXPECT_GT(a.stack_inuse(id).count, -1e-9) << id;  // every free found its object's stack
    sum += a.stack_inuse(id).count;
  }
  EXPECT_NEAR(sum, kStacks / 2 * weight(64), 1e-6 * kStacks * weight(64));
  EXPECT_EQ(a.frees_of_earlier_objects(), 0u);
}

}  // namespace
}  // namespace gotrace
