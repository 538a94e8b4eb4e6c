// The live view's sites, on a synthetic Go executable (the fuzz seeds'
// builder, as in profile_builder_test.cc): stacks summed by call site, with
// their memory in use when the trace records it, and none when it does not.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "tests/unit/synthetic_binary_test.h"
#include "userspace/process/target_process.h"
#include "userspace/tui/live_sites.h"

namespace gotrace {
namespace {

class LiveSitesTest : public SyntheticBinaryTest {
 protected:
  // A snapshot of one process, slot 0, that brings its symbolizer's maker.
  TraceSnapshot of_process(StackSnapshot stacks, std::string mode_note = "") const {
    TraceSnapshot s;
    s.mode_note = std::move(mode_note);
    s.processes.push_back({});
    s.processes[0].stacks = std::move(stacks);
    s.processes[0].make_symbolizer = [this] { return StackSymbolizer(*binary_, translator_for(*binary_, 0, path_)); };
    return s;
  }

  // Two stacks at main.helper (they differ in the runtime's frames only)
  // and one whose leaf is main.main.
  StackSnapshot snapshot() const {
    StackSnapshot s;
    s.new_stacks = {{0, {in("runtime.mallocgc", 0x20), in("main.helper", 0x40), in("main.main", 0xe0)}, false, {}},
                    {0, {in("runtime.mallocgc", 0x60), in("main.helper", 0x40), in("main.main", 0xe0)}, false, {}},
                    {0, {in("runtime.mallocgc", 0x20), in("main.main", 0x10)}, false, {}}};
    s.stack_totals = {{2, 64}, {3, 96}, {1, 4096}};
    return s;
  }
  static const SiteTotals& site_of(const SiteTable& table, std::string_view function) {
    for (const SiteTotals& site : table.sites)
      if (site.function == function) return site;
    ADD_FAILURE() << "no site " << function;
    return table.sites.front();
  }
};

TEST_F(LiveSitesTest, SumsMemoryInUseBySite) {
  LiveSites live;
  StackSnapshot s = snapshot();
  s.records_inuse = true;
  s.stack_inuse = {{0, {1, 32}}, {1, {2, 64}}};  // main.main's stack has none in use
  SiteTable table = live.update(of_process(s, "exact → heap samples at 12s"));
  ASSERT_EQ(table.sites.size(), 2u);
  EXPECT_TRUE(table.records_inuse);
  EXPECT_EQ(table.mode_note, "exact → heap samples at 12s");
  const SiteTotals& helper = site_of(table, "main.helper");
  EXPECT_DOUBLE_EQ(helper.totals.bytes, 160);
  EXPECT_DOUBLE_EQ(helper.inuse.bytes, 96);
  EXPECT_DOUBLE_EQ(helper.inuse.count, 3);
  EXPECT_DOUBLE_EQ(site_of(table, "main.main").inuse.bytes, 0);
  EXPECT_DOUBLE_EQ(table.inuse.bytes, 96);

  // The next snapshot brings no new stacks: the objects were freed.
  StackSnapshot next;
  next.first_new_stack = 3;
  next.stack_totals = s.stack_totals;
  next.records_inuse = true;
  table = live.update(of_process(next));
  EXPECT_DOUBLE_EQ(site_of(table, "main.helper").inuse.bytes, 0);
  EXPECT_DOUBLE_EQ(site_of(table, "main.helper").totals.bytes, 160);
}

TEST_F(LiveSitesTest, NoInuseWhenTheTraceRecordsNone) {
  LiveSites live;
  SiteTable table = live.update(of_process(snapshot()));
  EXPECT_FALSE(table.records_inuse);
  EXPECT_TRUE(table.mode_note.empty());
  EXPECT_DOUBLE_EQ(site_of(table, "main.helper").totals.count, 5);
  EXPECT_DOUBLE_EQ(site_of(table, "main.helper").inuse.bytes, 0);
}

TEST_F(LiveSitesTest, SitesArePerProcessAndAnEndedProcessKeepsItsFigures) {
  LiveSites live;
  TraceSnapshot both = of_process(snapshot());
  both.processes[0].pid = 10;
  both.processes[0].name = "go";
  both.processes.push_back(of_process(snapshot()).processes[0]);
  both.processes[1].slot = 3;
  both.processes[1].pid = 11;
  both.processes[1].name = "compile";
  both.processes[1].ended = true;
  both.processes[1].stacks.stack_totals = {{20, 640}, {30, 960}, {10, 40960}};
  both.processes[1].probe_counts[GOTRACE_COUNTER_RINGBUF_FULL] = 5;
  SiteTable table = live.update(both);
  ASSERT_EQ(table.processes.size(), 2u);
  EXPECT_EQ(table.processes[1].name, "compile");
  EXPECT_TRUE(table.processes[1].ended);
  EXPECT_EQ(table.probe_counts[GOTRACE_COUNTER_RINGBUF_FULL], 5u);
  // main.helper in each process: a site each, with ids of their own.
  ASSERT_EQ(table.sites.size(), 4u);
  std::vector<const SiteTotals*> helpers;
  for (const SiteTotals& site : table.sites)
    if (site.function == "main.helper") helpers.push_back(&site);
  ASSERT_EQ(helpers.size(), 2u);
  EXPECT_NE(helpers[0]->id, helpers[1]->id);
  EXPECT_EQ(helpers[0]->process, 0u);
  EXPECT_EQ(helpers[1]->process, 1u);
  EXPECT_DOUBLE_EQ(helpers[0]->totals.count, 5);
  EXPECT_DOUBLE_EQ(helpers[1]->totals.count, 50);
  EXPECT_DOUBLE_EQ(table.totals.count, 66);
  EXPECT_DOUBLE_EQ(live.stacks_at(helpers[1]->id, 10).totals.count, 50);
  uint32_t ended_helper = helpers[1]->id;

  // The next snapshot leaves the ended process out (the view has its last
  // figures) and brings a third process at slot 1.
  StackSnapshot more = snapshot();
  more.first_new_stack = 3;
  more.new_stacks.clear();
  more.stack_totals = {{4, 128}, {6, 192}, {2, 8192}};
  TraceSnapshot next = of_process(more);
  next.processes[0].make_symbolizer = nullptr;  // handed over already
  next.processes.push_back(of_process(snapshot()).processes[0]);
  next.processes[1].slot = 1;
  table = live.update(next);
  ASSERT_EQ(table.processes.size(), 3u);
  EXPECT_EQ(table.sites.size(), 6u);
  for (const SiteTotals& site : table.sites) {
    if (site.id == ended_helper) {
      EXPECT_DOUBLE_EQ(site.totals.count, 50) << "kept";
    }
  }
  EXPECT_DOUBLE_EQ(table.totals.count, 12 + 60 + 6);
  EXPECT_EQ(table.probe_counts[GOTRACE_COUNTER_RINGBUF_FULL], 5u);
}

}  // namespace
}  // namespace gotrace
