// The live view's screen model, without a terminal: rates, sorting,
// filtering, selection, the stack view, number formatting and fitting text
// into columns.
#include <gtest/gtest.h>

#include <algorithm>

#include "base/text_format.h"
#include "userspace/profile/call_sites.h"
#include "tests/unit/screen_text.h"
#include "userspace/tui/screen_model.h"
#include "userspace/tui/text_cells.h"

namespace gotrace {
namespace {

using namespace std::chrono_literals;

TraceInfo info() { return {4242, "/srv/bin/server", "go1.22.3", 0}; }

SiteTotals site(uint32_t id, std::string_view function, double count, double bytes,
                std::string_view type = "main.Record") {
  return {id, function, "/src/app/handlers.go", 10 + id, type, {count, bytes}};
}

SiteTable table(std::chrono::nanoseconds elapsed, std::vector<SiteTotals> sites, double cpu = 0) {
  SiteTable t;
  t.elapsed = elapsed;
  t.tracer_cpu_seconds = cpu;
  for (const SiteTotals& s : sites) {
    t.totals.count += s.totals.count;
    t.totals.bytes += s.totals.bytes;
  }
  t.sites = std::move(sites);
  return t;
}

std::vector<std::string> functions(const ScreenModel& model) {
  std::vector<std::string> out;
  for (const SiteRow& row : model.rows()) out.emplace_back(row.site.function);
  return out;
}

bool contains(const std::vector<std::string>& lines, std::string_view needle) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(needle) != std::string::npos; });
}

void type(ScreenModel& model, std::string_view keys) {
  for (char c : keys) model.press(Key::of(c));
}

// ---- numbers and text ----------------------------------------------------------

TEST(NumberFormat, CountsInSiUnits) {
  EXPECT_EQ(format_count(0), "0");
  EXPECT_EQ(format_count(7), "7");
  EXPECT_EQ(format_count(0.5), "0.5");
  EXPECT_EQ(format_count(987), "987");
  EXPECT_EQ(format_count(1000), "1.0k");
  EXPECT_EQ(format_count(12345), "12.3k");
  EXPECT_EQ(format_count(1.2e6), "1.2M");
  EXPECT_EQ(format_count(999960), "1.0M");  // not "1000.0k"
  EXPECT_EQ(format_count(3.4e9), "3.4G");
}

TEST(NumberFormat, BytesInBinaryUnits) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(34.5 * 1024 * 1024), "34.5 MiB");
  EXPECT_EQ(format_bytes(1024 * 1024 - 10), "1.0 MiB");  // not "1024.0 KiB"
  // Compact, for table columns: three digits from 100 up.
  EXPECT_EQ(format_bytes(256 * 1024, true), "256 KiB");
  EXPECT_EQ(format_bytes(34.5 * 1024 * 1024, true), "34.5 MiB");
  EXPECT_EQ(format_bytes(1023, true), "1023 B");
}

TEST(TextCells, CutsNamesAtTheEndThatMattersLess) {
  EXPECT_EQ(keep_tail("github.com/acme/store.(*Cache).Put", 16, "…"), "…re.(*Cache).Put");
  EXPECT_EQ(display_width(keep_tail("github.com/acme/store.(*Cache).Put", 16, "…")), 16u);
  EXPECT_EQ(keep_head("map.bucket[string]int", 10, "~"), "map.bucke~");
  EXPECT_EQ(keep_tail("short", 10, "…"), "short");
  EXPECT_EQ(keep_tail("abcdef", 1, "…"), "f");
  EXPECT_EQ(pad_left("42", 5), "   42");
  EXPECT_EQ(pad_right("héllo", 7), "héllo  ");
  EXPECT_EQ(display_width("héllo…"), 6u);
  EXPECT_EQ(utf8(U'…'), "…");
  EXPECT_EQ(drop_last_code_point("ab…"), "ab");
  EXPECT_EQ(format_elapsed(45s), "45s");
  EXPECT_EQ(format_elapsed(187s), "3m07s");
  EXPECT_EQ(format_elapsed(7509s), "2h05m09s");
}

// ---- rates, sorting, filtering -----------------------------------------------------

TEST(ScreenModel, RatesAreTheDifferenceBetweenTwoTablesOverTheirInterval) {
  ScreenModel model(info());
  // The first table is measured from the start of the trace.
  model.update(table(2s, {site(0, "main.a", 2000, 64000), site(1, "main.b", 100, 100000)}, 0.5));
  ASSERT_EQ(model.rows().size(), 2u);
  EXPECT_DOUBLE_EQ(model.rows()[0].alloc_rate, 50);  // main.b: most bytes per second
  EXPECT_DOUBLE_EQ(model.rows()[0].byte_rate, 50000);
  // Half a second later: main.a allocated 3000 more, main.b nothing.
  model.update(table(2500ms, {site(0, "main.a", 5000, 160000), site(1, "main.b", 100, 100000)}, 0.55));
  EXPECT_EQ(functions(model), (std::vector<std::string>{"main.a", "main.b"}));
  EXPECT_DOUBLE_EQ(model.rows()[0].alloc_rate, 6000);
  EXPECT_DOUBLE_EQ(model.rows()[0].byte_rate, 192000);
  EXPECT_DOUBLE_EQ(model.rows()[1].alloc_rate, 0);
  // The header sums the sites, and gotrace's CPU share comes from the same interval.
  auto lines = text(model.render(100, 20));
  EXPECT_TRUE(contains(lines, "allocs 6.0k/s  bytes 187.5 KiB/s  total 5.1k allocs, 253.9 KiB")) << dump(lines);
  EXPECT_TRUE(contains(lines, "gotrace cpu 10.0%")) << dump(lines);
  // A site new in this table counts from zero.
  model.update(table(3500ms, {site(0, "main.a", 5000, 160000), site(1, "main.b", 100, 100000),
                              site(2, "main.c", 10, 480)}));
  EXPECT_EQ(model.rows()[0].site.function, "main.c");
  EXPECT_DOUBLE_EQ(model.rows()[0].alloc_rate, 10);
}

TEST(ScreenModel, SortKeysPickTheColumn) {
  ScreenModel model(info());
  model.update(table(1s, {site(0, "main.small_many", 900, 9000), site(1, "main.big_few", 10, 900000)}));
  model.update(table(2s, {site(0, "main.small_many", 1900, 19000), site(1, "main.big_few", 15, 950000)}));
  // Default: bytes per second.
  EXPECT_EQ(model.sort(), SortColumn::kByteRate);
  EXPECT_EQ(functions(model), (std::vector<std::string>{"main.big_few", "main.small_many"}));
  type(model, "a");
  EXPECT_EQ(model.sort(), SortColumn::kAllocRate);
  EXPECT_EQ(functions(model), (std::vector<std::string>{"main.small_many", "main.big_few"}));
  type(model, "B");
  EXPECT_EQ(functions(model), (std::vector<std::string>{"main.big_few", "main.small_many"}));
  type(model, "A");
  EXPECT_EQ(model.sort(), SortColumn::kAllocs);
  EXPECT_EQ(functions(model), (std::vector<std::string>{"main.small_many", "main.big_few"}));
  // < and > walk across the columns.
  type(model, ">");
  EXPECT_EQ(model.sort(), SortColumn::kBytes);
  type(model, "<<<<");
  EXPECT_EQ(model.sort(), SortColumn::kAllocRate);
  auto lines = text(model.render(100, 20));
  EXPECT_TRUE(contains(lines, "sorted by allocs/s")) << dump(lines);
}

TEST(ScreenModel, IdleSitesKeepAStableOrder) {
  ScreenModel model(info());
  model.update(table(1s, {site(0, "main.z", 5, 50), site(1, "main.y", 5, 500), site(2, "main.x", 5, 500)}));
  model.update(table(2s, {site(0, "main.z", 5, 50), site(1, "main.y", 5, 500), site(2, "main.x", 5, 500)}));
  // All at 0/s: by total bytes, then by name.
  EXPECT_EQ(functions(model), (std::vector<std::string>{"main.x", "main.y", "main.z"}));
}

TEST(ScreenModel, FilterMatchesFunctionOrFileIgnoringCase) {
  ScreenModel model(info());
  SiteTotals other{2, "net/http.(*conn).serve", "/usr/lib/go/src/net/http/server.go", 2000, "[]uint8", {1, 4096}};
  model.update(table(1s, {site(0, "main.handleLogin", 10, 100), site(1, "main.encode", 10, 200), other}));
  type(model, "/LOGIN");
  EXPECT_EQ(functions(model), (std::vector<std::string>{"main.handleLogin"}));
  auto lines = text(model.render(100, 20));
  EXPECT_TRUE(contains(lines, "Filter: LOGIN_")) << dump(lines);
  EXPECT_TRUE(contains(lines, "1 of 3 sites match \"LOGIN\"")) << dump(lines);
  // While the filter is typed, letters are text, not commands.
  for (int i = 0; i < 5; ++i) model.press({Key::kBackspace});
  type(model, "server.go");
  EXPECT_EQ(functions(model), (std::vector<std::string>{"net/http.(*conn).serve"}));
  EXPECT_EQ(model.press({Key::kEnter}), Action::kNone);
  EXPECT_EQ(model.filter(), "server.go");
  // Nothing matches: the table says so.
  type(model, "/x");
  lines = text(model.render(100, 20));
  EXPECT_TRUE(contains(lines, "no call site matches the filter")) << dump(lines);
  // Esc clears it.
  model.press({Key::kEscape});
  EXPECT_EQ(model.filter(), "");
  EXPECT_EQ(model.rows().size(), 3u);
}

TEST(ScreenModel, SelectionFollowsItsSiteAndOpensItsStacks) {
  ScreenModel model(info());
  model.update(table(1s, {site(0, "main.a", 10, 3000), site(1, "main.b", 10, 2000), site(2, "main.c", 10, 1000)}));
  EXPECT_EQ(model.selected_site(), 0u);
  type(model, "j");
  EXPECT_EQ(model.selected_site(), 1u);
  model.press({Key::kDown});
  model.press({Key::kDown});  // stops at the last row
  EXPECT_EQ(model.selected_site(), 2u);
  model.press({Key::kUp});
  EXPECT_EQ(model.selected_site(), 1u);
  // main.b becomes the busiest: the selection stays on it.
  model.update(table(2s, {site(0, "main.a", 10, 3000), site(1, "main.b", 20, 9000), site(2, "main.c", 10, 1000)}));
  EXPECT_EQ(model.rows().front().site.id, 1u);
  EXPECT_EQ(model.selected_site(), 1u);
  auto lines = model.render(100, 20);
  auto selected = std::find_if(lines.begin(), lines.end(), [](const ScreenLine& l) {
    return !l.spans.empty() && l.spans.front().style == Style::kSelected;
  });
  ASSERT_NE(selected, lines.end());
  EXPECT_NE(selected->text().find("main.b"), std::string::npos);

  EXPECT_EQ(model.press({Key::kEnter}), Action::kShowStacks);
  EXPECT_EQ(model.stack_site(), 1u);
  model.press({Key::kEscape});
  EXPECT_EQ(model.stack_site(), std::nullopt);
}

TEST(ScreenModel, StackViewShowsEveryStackWithInlinedFramesMarked) {
  ScreenModel model(info());
  model.update(table(1s, {site(0, "main.mkPair", 300, 4800, "main.Pair")}));
  ASSERT_EQ(model.press({Key::kEnter}), Action::kShowStacks);
  SiteStack hot{{{"main.mkPair", "/src/app/pair.go", 12, 0, true},
                 {"main.handle", "/src/app/handlers.go", 40, 0, false},
                 {"main.main", "/src/app/main.go", 9, 0, false}},
                "main.Pair",
                false,
                {200, 3200}};
  SiteStack cold{{{"main.mkPair", "/src/app/pair.go", 12, 0, true}, {"main.other", "/src/app/other.go", 7, 0, false}},
                 "main.Pair",
                 true,
                 {100, 1600}};
  model.set_stacks({{hot, cold}, 2, {300, 4800}});
  auto lines = text(model.render(100, 30));
  EXPECT_TRUE(contains(lines, "/src/app/handlers.go:10")) << dump(lines);
  EXPECT_TRUE(contains(lines, "stack 1 of 2: 66.7% of the bytes here, main.Pair, 200 allocs, 3.1 KiB")) << dump(lines);
  EXPECT_TRUE(contains(lines, "stack 2 of 2: 33.3%")) << dump(lines);
  auto inlined =
      std::find_if(lines.begin(), lines.end(), [](const std::string& l) { return l.find("  main.mkPair") == 0; });
  ASSERT_NE(inlined, lines.end()) << dump(lines);
  EXPECT_NE(inlined->find("(inlined)"), std::string::npos);
  EXPECT_NE(inlined->find("/src/app/pair.go:12"), std::string::npos);
  auto caller =
      std::find_if(lines.begin(), lines.end(), [](const std::string& l) { return l.find("  main.handle") == 0; });
  ASSERT_NE(caller, lines.end());
  EXPECT_EQ(caller->find("(inlined)"), std::string::npos);
  EXPECT_TRUE(contains(lines, "deeper frames were not recorded")) << dump(lines);
  EXPECT_TRUE(contains(lines, "Esc Back")) << dump(lines);

  // Scrolling stops at the end; Home goes back.
  auto short_screen = text(model.render(100, 12));
  for (int i = 0; i < 50; ++i) model.press({Key::kDown});
  auto scrolled = text(model.render(100, 12));
  EXPECT_NE(short_screen, scrolled);
  EXPECT_TRUE(contains(scrolled, "deeper frames were not recorded")) << dump(scrolled);
  model.press({Key::kHome});
  EXPECT_EQ(text(model.render(100, 12)), short_screen);
}

TEST(ScreenModel, StackViewShowsTheHeaviestStacksOfMany) {
  ScreenModel model(info());
  model.update(table(1s, {site(0, "main.leafOfPath", 131072, 131072 * 48)}));
  model.press({Key::kEnter});
  SiteStack one{{{"main.leafOfPath", "/src/app/tree.go", 3, 0, false}}, "main.Record", false, {1, 48}};
  model.set_stacks({{one, one}, 131072, {131072, 131072 * 48}});
  auto lines = text(model.render(100, 30));
  EXPECT_TRUE(contains(lines, "top type main.Record  131072 distinct stacks")) << dump(lines);
  EXPECT_TRUE(contains(lines, "stack 2 of 131072: 0.0% of the bytes here")) << dump(lines);
  EXPECT_TRUE(contains(lines, "131070 lighter stacks, 100.0% of the bytes here, are not shown")) << dump(lines);
}

TEST(ScreenModel, PauseFreezesTheDisplayWhileFiguresGoOn) {
  ScreenModel model(info());
  model.update(table(1s, {site(0, "main.a", 100, 1000)}));
  type(model, "p");
  EXPECT_TRUE(model.paused());
  model.update(table(2s, {site(0, "main.a", 300, 3000)}));
  EXPECT_DOUBLE_EQ(model.rows()[0].alloc_rate, 100);
  auto lines = text(model.render(100, 20));
  EXPECT_TRUE(contains(lines, " PAUSED ")) << dump(lines);
  EXPECT_TRUE(contains(lines, "p Resume")) << dump(lines);
  model.update(table(3s, {site(0, "main.a", 400, 4000)}));
  type(model, "p");
  // The rate over the last interval, not over the pause.
  EXPECT_DOUBLE_EQ(model.rows()[0].alloc_rate, 100);
  EXPECT_DOUBLE_EQ(model.rows()[0].site.totals.count, 400);
}

TEST(ScreenModel, RefreshIntervalAndQuit) {
  ScreenModel model(info());
  EXPECT_EQ(model.refresh_interval(), 1s);
  EXPECT_EQ(model.press(Key::of('+')), Action::kIntervalChanged);
  EXPECT_EQ(model.refresh_interval(), 2s);
  type(model, "----");
  EXPECT_EQ(model.refresh_interval(), 250ms);
  auto lines = text(model.render(100, 20));
  EXPECT_TRUE(contains(lines, "Refresh 250ms")) << dump(lines);
  EXPECT_EQ(model.press(Key::of('q')), Action::kQuit);
}

// ---- the whole screen --------------------------------------------------------------

TEST(ScreenModel, FillsAnEightyByTwentyFourTerminalReadably) {
  ScreenModel model({4242, "/home/deploy/releases/2024-06-01/bin/very-long-service-name-server", "go1.22.3", 0}, "…");
  std::vector<SiteTotals> sites;
  for (uint32_t i = 0; i < 40; ++i)
    sites.push_back({i, i == 0 ? "github.com/acme/widgets/internal/store.(*Cache).Put" : "main.site",
                     "/src/app/handlers.go", 100 + i, "map.bucket[string]*store.entry",
                     {1000.0 * (i + 1), 4.0e6 * (i + 1)}});
  model.update(table(1s, sites));
  auto screen = model.render(80, 24);
  auto lines = text(screen);
  ASSERT_EQ(lines.size(), 24u);
  for (const std::string& line : lines) EXPECT_EQ(display_width(line), 80u) << "|" << line << "|";
  EXPECT_TRUE(lines[0].starts_with("gotrace  pid 4242  go1.22.3  …")) << lines[0];
  EXPECT_NE(lines[0].find("traced 1s"), std::string::npos) << lines[0];
  EXPECT_TRUE(lines[1].starts_with("allocs 820.0k/s  bytes 3.1 GiB/s")) << lines[1];
  // gotrace's own CPU share needs two tables.
  EXPECT_TRUE(lines[2].starts_with("lost 0  gotrace cpu -  ")) << lines[2];
  EXPECT_TRUE(lines[3].starts_with("ALLOCS/s   BYTES/s  ALLOCS     BYTES      AVG  TYPE")) << lines[3];
  EXPECT_NE(lines[3].find("CALL SITE"), std::string::npos);
  EXPECT_TRUE(lines[23].starts_with("q Quit  a b A B Sort  p Pause  j k Move  Enter Stack  / Filter  + - Refresh 1s"))
      << lines[23];
  // Rows from the busiest down; numbers right-aligned under their headings.
  // Two sites of one function are told apart by their lines when the file does not fit.
  EXPECT_TRUE(lines[4].starts_with("   40.0k   153 MiB   40.0k   153 MiB  3.9 KiB  map.buc…  main.site:139"))
      << dump(lines);
  size_t bytes_end = lines[3].find("BYTES/s") + 7;
  for (int row = 4; row < 23; ++row) EXPECT_EQ(lines[row][bytes_end], ' ') << lines[row];
  // 19 rows fit; the long name is cut at its start when the selection brings it into view.
  for (int i = 0; i < 39; ++i) model.press({Key::kDown});
  lines = text(model.render(80, 24));
  EXPECT_TRUE(lines[22].ends_with("  …nal/store.(*Cache).Put")) << dump(lines);
  // A wider terminal shows the file and the whole type.
  lines = text(model.render(160, 24));
  EXPECT_TRUE(contains(lines, "map.bucket[string]*store.entry")) << dump(lines);
  EXPECT_TRUE(contains(lines, "github.com/acme/widgets/internal/store.(*Cache).Put  handlers.go:100")) << dump(lines);
}

TEST(ScreenModel, NarrowTerminalSparesTheTopRowsTypesAndLines) {
  ScreenModel model(info());
  model.update(table(1s, {{0, "main.siteSteadyC", "/src/allocs/main.go", 363, "uint8", {52, 13.6e6}},
                          {1, "main.siteSteadyA", "/src/allocs/main.go", 354, "main.Record", {155900, 7.4e6}},
                          {2, "main.siteSteadyB", "/src/allocs/main.go", 357, "main.Pair", {52000, 832000}},
                          {3, "runtime.newobject", "/usr/lib/go/src/runtime/malloc.go", 2157, "runtime.sudog",
                           {8, 896}}}));
  auto lines = text(model.render(80, 12));
  // The rare runtime site at the bottom gives way: its type is cut, its line dropped.
  EXPECT_TRUE(lines[4].ends_with("uint8        main.siteSteadyC:363")) << dump(lines);
  EXPECT_TRUE(lines[5].ends_with("main.Record  main.siteSteadyA:354")) << dump(lines);
  EXPECT_TRUE(lines[7].ends_with("runtime.su…  runtime.newobject   ")) << dump(lines);

  // More of them do not change that.
  model.update(table(2s, {{0, "main.siteSteadyC", "/src/allocs/main.go", 363, "uint8", {104, 27.2e6}},
                          {1, "main.siteSteadyA", "/src/allocs/main.go", 354, "main.Record", {311800, 14.8e6}},
                          {2, "main.siteSteadyB", "/src/allocs/main.go", 357, "main.Pair", {104000, 1664000}},
                          {3, "runtime.newobject", "/usr/lib/go/src/runtime/malloc.go", 2157, "runtime.mspan",
                           {16, 8600}},
                          {4, "runtime.makeslice", "/usr/lib/go/src/runtime/slice.go", 117, "uintptr", {4, 4400}},
                          {5, "runtime.growslice", "/usr/lib/go/src/runtime/slice.go", 273, "runtime.timerWhen",
                           {2, 64}}}));
  lines = text(model.render(80, 12));
  EXPECT_NE(lines[5].find("main.Record  main.siteSteadyA"), std::string::npos) << dump(lines);
}

TEST(ScreenModel, HeaderTellsLossesSamplingAndTheTargetsExit) {
  ScreenModel model({77, "/bin/app", "go1.21.0", 512 * 1024});
  SiteTable t = table(65s, {site(0, "main.a", 1, 16)});
  t.probe_counts[GOTRACE_COUNTER_RINGBUF_FULL] = 1200;
  t.probe_counts[GOTRACE_COUNTER_STACK_READ] = 3;
  t.probe_counts[GOTRACE_COUNTER_STACK_TRUNCATED] = 7;  // a notice: not a loss
  model.update(t);
  auto lines = text(model.render(120, 20));
  EXPECT_TRUE(contains(lines, "lost 1.2k: 1.2k ring buffer full, 3 stack unreadable")) << dump(lines);
  EXPECT_TRUE(contains(lines, "estimates: sampled every 512.0 KiB")) << dump(lines);
  EXPECT_TRUE(contains(lines, "traced 1m05s")) << dump(lines);
  model.set_target_exited();
  lines = text(model.render(120, 20));
  EXPECT_TRUE(contains(lines, " EXITED ")) << dump(lines);
  EXPECT_TRUE(contains(lines, "pid 77 has exited; these are its last figures. q quits.")) << dump(lines);
}

TEST(ScreenModel, SaysSoWhenTheTerminalIsTooSmall) {
  ScreenModel model(info());
  auto lines = text(model.render(30, 5));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_TRUE(lines[0].starts_with("gotrace: the terminal is too")) << lines[0];
  for (const std::string& line : lines) EXPECT_EQ(display_width(line), 30u);
}

TEST(ScreenModel, EmptyTableBeforeTheFirstAllocation) {
  ScreenModel model(info());
  auto lines = text(model.render(80, 24));
  EXPECT_TRUE(contains(lines, "no allocations seen yet")) << dump(lines);
  EXPECT_EQ(model.press({Key::kEnter}), Action::kNone);
}

}  // namespace
}  // namespace gotrace
