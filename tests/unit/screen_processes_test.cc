// The live view's screen model in a trace of several processes: a PROCESS
// column, a site per process (the same function in two is two rows), the
// filter by process that Tab and Shift-Tab cycle, and the header's figures
// that follow it.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/unit/screen_text.h"
#include "userspace/tui/screen_model.h"

namespace gotrace {
namespace {

using namespace std::chrono_literals;

TraceInfo info() { return {100, "/usr/bin/make", "go1.22.3", 0}; }

SiteTotals site(uint32_t id, uint32_t process, std::string_view function, double count, double bytes) {
  return {id, function, "/src/cmd/compile/main.go", 10 + id, "main.Node", {count, bytes}, {}, process};
}

TableProcess process(int pid, std::string name, bool ended = false) {
  return {pid, name, "/usr/lib/go/pkg/tool/" + name, "go1.22.3", ended, {}};
}

// Three processes: the `go` command and two compiles, which both allocate
// at main.parse; `scale` grows the totals from one table to the next.
SiteTable table(std::chrono::nanoseconds elapsed, double scale, bool first_ended = false) {
  SiteTable t;
  t.elapsed = elapsed;
  t.processes = {process(100, "go"), process(201, "compile", first_ended), process(202, "compile")};
  t.processes[1].probe_counts[GOTRACE_COUNTER_RINGBUF_FULL] = 7;
  t.sites = {site(0, 0, "main.run", 10 * scale, 1000 * scale), site(1, 1, "main.parse", 20 * scale, 4000 * scale),
             site(2, 2, "main.parse", 30 * scale, 9000 * scale), site(3, 2, "main.walk", 5 * scale, 500 * scale)};
  for (const SiteTotals& s : t.sites) t.totals.add(s.totals);
  t.probe_counts[GOTRACE_COUNTER_RINGBUF_FULL] = 7;
  return t;
}

// The index of the line that starts with the table's heading (ALLOCS/s).
size_t heading_at(const std::vector<std::string>& lines) {
  for (size_t i = 0; i < lines.size(); ++i)
    if (lines[i].find("CALL SITE") != std::string::npos) return i;
  return lines.size();
}

TEST(ScreenProcesses, AColumnNamesEachSitesProcessAndTheSameFunctionIsARowPerProcess) {
  ScreenModel model(info());
  model.update(table(1s, 1));
  model.update(table(2s, 2));
  ASSERT_EQ(model.rows().size(), 4u);
  std::vector<std::string> lines = text(model.render(100, 20));
  size_t heading = heading_at(lines);
  ASSERT_LT(heading, lines.size()) << dump(lines);
  EXPECT_NE(lines[heading].find("PROCESS      TYPE"), std::string::npos) << dump(lines);
  EXPECT_TRUE(lines[0].starts_with("gotrace  all 3 processes, 3 running")) << dump(lines);
  // By bytes/s: compile:202's parse (9000/s), then compile:201's.
  EXPECT_NE(lines[heading + 1].find("compile:202  main.Node  main.parse"), std::string::npos) << dump(lines);
  EXPECT_NE(lines[heading + 2].find("compile:201  main.Node  main.parse"), std::string::npos) << dump(lines);
  EXPECT_NE(lines[heading + 3].find("go:100"), std::string::npos) << dump(lines);
  EXPECT_NE(lines[heading + 4].find("compile:202  main.Node  main.walk"), std::string::npos) << dump(lines);
  // Every process together.
  EXPECT_NE(lines[1].find("allocs 65/s  bytes 14.2 KiB/s  total 130 allocs, 28.3 KiB"), std::string::npos)
      << dump(lines);
  EXPECT_NE(lines.back().find("Tab Process"), std::string::npos) << dump(lines);
}

TEST(ScreenProcesses, TabCyclesThroughAllThenEachProcessAndTheHeaderFollows) {
  ScreenModel model(info());
  model.update(table(1s, 1, /*first_ended=*/true));
  model.update(table(2s, 2, /*first_ended=*/true));
  EXPECT_FALSE(model.process_filter());

  model.press(Key::of('\t'));  // the first process, the go command
  ASSERT_EQ(model.process_filter(), std::optional<uint32_t>(0));
  ASSERT_EQ(model.rows().size(), 1u);
  EXPECT_EQ(model.rows()[0].site.function, "main.run");
  std::vector<std::string> lines = text(model.render(100, 20));
  EXPECT_TRUE(lines[0].starts_with("gotrace  go:100 (1 of 3 processes)  go1.22.3  /usr/lib/go/pkg/tool/go"))
      << dump(lines);
  // Its figures alone, and no column that would say the same on every row.
  EXPECT_NE(lines[1].find("allocs 10/s  bytes 1000 B/s  total 20 allocs, 2.0 KiB"), std::string::npos)
      << dump(lines);
  EXPECT_EQ(lines[heading_at(lines)].find("PROCESS"), std::string::npos) << dump(lines);
  EXPECT_NE(lines[heading_at(lines) - 1].find("lost 0"), std::string::npos) << dump(lines);

  model.press(Key::of('\t'));  // compile:201, which has ended and lost events
  lines = text(model.render(100, 20));
  EXPECT_TRUE(lines[0].starts_with("gotrace  compile:201 (2 of 3 processes)")) << dump(lines);
  EXPECT_NE(lines[0].find("EXITED"), std::string::npos) << dump(lines);
  EXPECT_NE(lines[1].find("total 40 allocs, 7.8 KiB"), std::string::npos) << dump(lines);
  EXPECT_NE(lines[heading_at(lines) - 1].find("lost 7"), std::string::npos) << dump(lines);

  model.press(Key::of('\t'));  // compile:202: two sites
  EXPECT_EQ(model.rows().size(), 2u);
  lines = text(model.render(100, 20));
  EXPECT_NE(lines[1].find("allocs 35/s"), std::string::npos) << dump(lines);
  EXPECT_EQ(lines[0].find("EXITED"), std::string::npos) << dump(lines);
  // The filter by name works within the process.
  for (char c : std::string("/walk")) model.press(Key::of(c));
  model.press(Key{Key::kEnter});
  lines = text(model.render(100, 20));
  EXPECT_NE(lines[heading_at(lines) - 1].find("1 of 2 sites match \"walk\""), std::string::npos) << dump(lines);
  model.press(Key{Key::kEscape});

  model.press(Key::of('\t'));  // round again: all of them
  EXPECT_FALSE(model.process_filter());
  EXPECT_EQ(model.rows().size(), 4u);
  lines = text(model.render(100, 20));
  EXPECT_TRUE(lines[0].starts_with("gotrace  all 3 processes, 2 running")) << dump(lines);
  EXPECT_NE(lines[heading_at(lines) - 1].find("lost 7"), std::string::npos) << dump(lines);

  model.press(Key{Key::kBackTab});  // backwards: the last process
  EXPECT_EQ(model.process_filter(), std::optional<uint32_t>(2));
  model.press(Key{Key::kBackTab});
  model.press(Key{Key::kBackTab});
  model.press(Key{Key::kBackTab});
  EXPECT_FALSE(model.process_filter());
}

TEST(ScreenProcesses, TheStackViewNamesTheProcess) {
  ScreenModel model(info());
  model.update(table(1s, 1));
  EXPECT_EQ(model.press(Key{Key::kEnter}), Action::kShowStacks);
  std::vector<std::string> lines = text(model.render(100, 20));
  EXPECT_TRUE(std::any_of(lines.begin(), lines.end(), [](const std::string& line) {
    return line.find("process compile:202") != std::string::npos;
  })) << dump(lines);
}

TEST(ScreenProcesses, OneProcessLooksAsItAlwaysDid) {
  ScreenModel model(info());
  SiteTable one = table(1s, 1);
  one.processes.resize(1);
  one.sites.resize(1);
  model.update(one);
  model.press(Key::of('\t'));  // nothing to cycle through
  EXPECT_FALSE(model.process_filter());
  std::vector<std::string> lines = text(model.render(100, 20));
  EXPECT_TRUE(lines[0].starts_with("gotrace  pid 100  go1.22.3  /usr/bin/make")) << dump(lines);
  EXPECT_EQ(lines[heading_at(lines)].find("PROCESS"), std::string::npos) << dump(lines);
  EXPECT_EQ(lines.back().find("Tab"), std::string::npos) << dump(lines);
}

TEST(ScreenProcesses, EightyColumnsKeepTheProcessColumnAndKeys) {
  ScreenModel model(info());
  SiteTable t = table(1s, 1);
  t.records_inuse = true;
  model.update(t);
  std::vector<std::string> lines = text(model.render(80, 24));
  EXPECT_NE(lines[heading_at(lines)].find("PROCESS"), std::string::npos) << dump(lines);
  EXPECT_NE(lines[heading_at(lines)].find("CALL SITE"), std::string::npos) << dump(lines);
  // j k and + - give way to Tab: they still work, unsaid (the arrow keys
  // move too).
  EXPECT_TRUE(lines.back().starts_with("q Quit  a b A B i l Sort  p Pause  Enter Stack  / Filter  Tab Process  "))
      << dump(lines);
}

}  // namespace
}  // namespace gotrace
