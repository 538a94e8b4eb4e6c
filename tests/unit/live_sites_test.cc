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
  LiveSites sites() const { return LiveSites(StackSymbolizer(*binary_, translator_for(*binary_, 0, path_))); }

  // Two stacks at main.helper (they differ in the runtime's frames only)
  // and one whose leaf is main.main.
  TraceSnapshot snapshot() const {
    TraceSnapshot s;
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
  LiveSites live = sites();
  TraceSnapshot s = snapshot();
  s.records_inuse = true;
  s.stack_inuse = {{0, {1, 32}}, {1, {2, 64}}};  // main.main's stack has none in use
  s.mode_note = "exact → heap samples at 12s";
  SiteTable table = live.update(s);
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
  TraceSnapshot next;
  next.first_new_stack = 3;
  next.stack_totals = s.stack_totals;
  next.records_inuse = true;
  table = live.update(next);
  EXPECT_DOUBLE_EQ(site_of(table, "main.helper").inuse.bytes, 0);
  EXPECT_DOUBLE_EQ(site_of(table, "main.helper").totals.bytes, 160);
}

TEST_F(LiveSitesTest, NoInuseWhenTheTraceRecordsNone) {
  LiveSites live = sites();
  SiteTable table = live.update(snapshot());
  EXPECT_FALSE(table.records_inuse);
  EXPECT_TRUE(table.mode_note.empty());
  EXPECT_DOUBLE_EQ(site_of(table, "main.helper").totals.count, 5);
  EXPECT_DOUBLE_EQ(site_of(table, "main.helper").inuse.bytes, 0);
}

}  // namespace
}  // namespace gotrace
