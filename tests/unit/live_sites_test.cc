// The live view's side of the trace: snapshots handed over by the event
// loop, and stacks symbolized, trimmed and summed by call site on a real Go
// binary, as the end-of-trace profile does.
#include <gtest/gtest.h>

#include "symbolizer/go_binary.h"
#include "tests/unit/test_support.h"
#include "userspace/tui/live_sites.h"
#include "userspace/tui/trace_snapshot.h"

namespace gotrace {
namespace {

using namespace std::chrono_literals;

RawStack stack(std::vector<uint64_t> pcs, uint64_t type = 0) {
  return {type, std::move(pcs), false, {}};
}

std::unique_ptr<TraceSnapshot> snapshot(size_t first_new, size_t new_count, size_t total) {
  auto s = std::make_unique<TraceSnapshot>();
  s->first_new_stack = first_new;
  for (size_t i = 0; i < new_count; ++i) s->new_stacks.push_back(stack({0x1000 + first_new + i}));
  s->stack_totals.resize(total);
  return s;
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
  x.publish(snapshot(x.first_unseen_stack(), 2, 2));
  x.publish(snapshot(x.first_unseen_stack(), 3, 3));
  auto taken = x.take();
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(taken->first_new_stack, 0u);
  EXPECT_EQ(taken->new_stacks.size(), 3u);
  EXPECT_EQ(x.first_unseen_stack(), 3u);
  EXPECT_EQ(x.take(), nullptr);

  // A snapshot begun before the view took the previous one repeats stacks
  // it already has; they are left out.
  x.publish(snapshot(1, 4, 5));
  taken = x.take();
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(taken->first_new_stack, 3u);
  ASSERT_EQ(taken->new_stacks.size(), 2u);
  EXPECT_EQ(taken->new_stacks[0].pcs[0], 0x1003u);
  EXPECT_EQ(x.first_unseen_stack(), 5u);
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
  TraceSnapshot s = take_snapshot(aggregator, 1);
  ASSERT_EQ(s.stack_totals.size(), 3u);
  EXPECT_DOUBLE_EQ(s.stack_totals[1].count, 2);
  EXPECT_EQ(s.first_new_stack, 1u);
  ASSERT_EQ(s.new_stacks.size(), 2u);
  EXPECT_EQ(s.new_stacks[0].pcs, std::vector<uint64_t>{0x20});
}

// A return address in the middle of `function`.
uint64_t inside(const GoBinary& binary, std::string_view function) {
  auto info = binary.find_function(function);
  EXPECT_TRUE(info) << function;
  return info ? (info->entry + info->end) / 2 : 0;
}

TEST(LiveSites, TrimsTheAllocatorAndSumsBySiteAsTheProfileDoes) {
  std::string path;
  for (const auto& build : testing::fixture_builds("allocs"))
    if (build.variant == "plain") path = build.path;
  auto opened = GoBinary::open(path);
  ASSERT_TRUE(opened) << opened.error().message;
  const GoBinary& binary = **opened;
  uint64_t malloc_a = inside(binary, "runtime.mallocgc"), malloc_b = malloc_a + 1;
  uint64_t site_a = inside(binary, "main.siteSteadyA"), site_b = inside(binary, "main.siteSteadyB");
  uint64_t steady = inside(binary, "main.steady");

  LiveSites sites(StackSymbolizer(binary, AddressTranslator(0)));
  TraceSnapshot first;
  first.elapsed = 1s;
  // Stacks 0 and 1 differ only inside the allocator: one sample once trimmed.
  first.new_stacks = {stack({malloc_a, site_a, steady}), stack({malloc_b, site_a, steady}),
                      stack({malloc_a, site_b, steady})};
  first.stack_totals = {{10, 480}, {5, 240}, {3, 48}};
  SiteTable table = sites.update(first);
  EXPECT_EQ(table.elapsed, 1s);
  ASSERT_EQ(table.sites.size(), 2u);
  const SiteTotals a = table.sites[0];
  EXPECT_EQ(a.function, "main.siteSteadyA");
  EXPECT_TRUE(a.file.ends_with("tests/fixtures/allocs/main.go")) << a.file;
  EXPECT_GT(a.line, 0);
  EXPECT_EQ(a.top_type, "raw memory");
  EXPECT_DOUBLE_EQ(a.totals.count, 15);
  EXPECT_DOUBLE_EQ(a.totals.bytes, 720);
  EXPECT_EQ(table.sites[1].function, "main.siteSteadyB");
  EXPECT_DOUBLE_EQ(table.totals.count, 18);

  auto site_stacks = sites.stacks_at(a.id, 10);
  EXPECT_EQ(site_stacks.count, 1u);
  EXPECT_DOUBLE_EQ(site_stacks.totals.bytes, 720);
  const auto& stacks = site_stacks.heaviest;
  ASSERT_EQ(stacks.size(), 1u);
  ASSERT_GE(stacks[0].frames.size(), 2u);
  EXPECT_EQ(stacks[0].frames[0].function, "main.siteSteadyA");
  // The caller's location expands to its inlined frames, outermost last.
  EXPECT_EQ(stacks[0].frames.back().function, "main.steady");
  EXPECT_DOUBLE_EQ(stacks[0].totals.count, 15);

  // The next snapshot brings one new stack at site B; the totals of the
  // known ones have grown. Site ids do not change.
  TraceSnapshot second;
  second.elapsed = 2s;
  second.first_new_stack = 3;
  second.new_stacks = {stack({malloc_a, site_b, inside(binary, "main.main")})};
  second.stack_totals = {{20, 960}, {10, 480}, {6, 96}, {1, 16}};
  table = sites.update(second);
  ASSERT_EQ(table.sites.size(), 2u);
  EXPECT_EQ(table.sites[0].id, a.id);
  EXPECT_DOUBLE_EQ(table.sites[0].totals.count, 30);
  EXPECT_DOUBLE_EQ(table.sites[1].totals.count, 7);
  auto b_stacks = sites.stacks_at(table.sites[1].id, 10);
  ASSERT_EQ(b_stacks.heaviest.size(), 2u);
  EXPECT_DOUBLE_EQ(b_stacks.heaviest[0].totals.count, 6);  // heaviest first
  // Only as many as asked for are symbolized into frames; the count says how many there are.
  b_stacks = sites.stacks_at(table.sites[1].id, 1);
  ASSERT_EQ(b_stacks.heaviest.size(), 1u);
  EXPECT_DOUBLE_EQ(b_stacks.heaviest[0].totals.count, 6);
  EXPECT_EQ(b_stacks.count, 2u);
  EXPECT_DOUBLE_EQ(b_stacks.totals.count, 7);
  EXPECT_EQ(sites.stacks_at(99, 10).count, 0u);
}

}  // namespace
}  // namespace gotrace
