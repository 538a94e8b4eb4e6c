// Memory in use in the live view: the growth of each site over the last
// 30 s and the leak marker (InuseGrowth), the INUSE and GROWTH/s columns,
// their sort keys, the header's in-use line, how the columns give way on a
// narrow terminal, and what is shown when no in-use figures are recorded.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "userspace/tui/inuse_growth.h"
#include "tests/unit/screen_text.h"
#include "userspace/tui/screen_model.h"
#include "userspace/tui/text_cells.h"

namespace gotrace {
namespace {

using namespace std::chrono_literals;

constexpr double kMiB = 1024 * 1024;

SiteTotals site(uint32_t id, std::string_view function, double inuse_bytes, double total_bytes = 64 * kMiB) {
  return {id, function, "/src/app/cache.go", 20 + id, "main.Entry", {total_bytes / 64, total_bytes},
          {inuse_bytes / 64, inuse_bytes}};
}

SiteTable inuse_table(std::chrono::nanoseconds elapsed, std::vector<SiteTotals> sites) {
  SiteTable t;
  t.elapsed = elapsed;
  t.records_inuse = true;
  for (const SiteTotals& s : sites) {
    t.totals.add(s.totals);
    t.inuse.add(s.inuse);
  }
  t.sites = std::move(sites);
  return t;
}

// Deterministic noise in [0, 1): GC sawtooths caught at random moments.
double noise(uint64_t i) {
  uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  return double(x >> 11) / double(uint64_t(1) << 53);
}

// Sites by second: a leak (1 MiB/s kept), a churning site (its in-use goes
// up and down around 8 MiB), a steady one, and one that filled once.
std::vector<SiteTotals> sites_at(int second) {
  return {site(0, "main.leak", second * kMiB),
          site(1, "main.churn", 8 * kMiB * noise(second)),
          site(2, "main.steady", 5 * kMiB),
          site(3, "main.fillOnce", second >= 20 ? 12 * kMiB : 0)};
}

const std::string* find_line(const std::vector<std::string>& lines, std::string_view needle) {
  auto it = std::find_if(lines.begin(), lines.end(),
                         [&](const std::string& l) { return l.find(needle) != std::string::npos; });
  return it == lines.end() ? nullptr : &*it;
}

std::vector<std::string> functions(const ScreenModel& model) {
  std::vector<std::string> out;
  for (const SiteRow& row : model.rows()) out.emplace_back(row.site.function);
  return out;
}

void type(ScreenModel& model, std::string_view keys) {
  for (char c : keys) model.press(Key::of(c));
}

// ---- growth and the leak marker -----------------------------------------------------

TEST(InuseGrowth, ASiteThatKeepsWhatItAllocatesIsFlaggedOnceTheWindowIsFull) {
  InuseGrowth growth;
  for (int second = 0; second <= 9; ++second) growth.add(inuse_table(second * 1s, sites_at(second)));
  // Too short a time for a trend.
  EXPECT_EQ(growth.site_growth(0), std::nullopt);
  for (int second = 10; second <= 25; ++second) growth.add(inuse_table(second * 1s, sites_at(second)));
  ASSERT_TRUE(growth.site_growth(0));
  EXPECT_NEAR(*growth.site_growth(0), kMiB, 1);  // the slope of a straight line is exact
  EXPECT_FALSE(growth.site_only_grew(0));        // 25 s: the window is not full yet
  for (int second = 26; second <= 60; ++second) {
    growth.add(inuse_table(second * 1s, sites_at(second)));
    if (second >= 30) {
      EXPECT_TRUE(growth.site_only_grew(0)) << second;
    }
  }
  EXPECT_NEAR(*growth.site_growth(0), kMiB, 1);
  EXPECT_EQ(growth.span(), 30s);
  // The total grows with it; the steady site does not move.
  EXPECT_NEAR(*growth.total_growth(), kMiB, 0.2 * kMiB);
  EXPECT_NEAR(*growth.site_growth(2), 0, 1e-6);
  EXPECT_FALSE(growth.site_only_grew(2));
}

TEST(InuseGrowth, UpsAndDownsAStepAndAPlateauAreNotLeaks) {
  InuseGrowth growth;
  for (int second = 0; second <= 300; ++second) {
    growth.add(inuse_table(second * 1s, sites_at(second)));
    EXPECT_FALSE(growth.site_only_grew(1)) << "churn at " << second;
    EXPECT_FALSE(growth.site_only_grew(3)) << "fill once at " << second;
  }
  // The churning site's slope is noise around nothing, far below the leak's.
  EXPECT_LT(std::fabs(*growth.site_growth(1)), 0.2 * kMiB);
  // A site that rose and then held still: flagged while it rose, not once
  // its plateau has filled the window.
  InuseGrowth plateau;
  bool flagged_while_rising = false;
  for (int second = 0; second <= 120; ++second) {
    plateau.add(inuse_table(second * 1s, {site(0, "main.cache", std::min(second, 60) * kMiB)}));
    if (second == 60) flagged_while_rising = plateau.site_only_grew(0);
  }
  EXPECT_TRUE(flagged_while_rising);
  EXPECT_FALSE(plateau.site_only_grew(0));
  EXPECT_NEAR(*plateau.site_growth(0), 0, 1e-6);
}

TEST(InuseGrowth, ALeakUnderGarbageCollectionNoiseIsFlagged) {
  // Temporaries climb between collections and drop at each sweep; what the
  // site keeps raises the floor by 256 KiB a second.
  InuseGrowth growth;
  for (int tick = 0; tick <= 4 * 60; ++tick) {
    double seconds = tick / 4.0;  // refreshed every 250 ms
    double sawtooth = (tick % 7) * kMiB;
    growth.add(inuse_table(tick * 250ms, {site(0, "main.handler", seconds * 256 * 1024 + sawtooth)}));
  }
  EXPECT_TRUE(growth.site_only_grew(0));
  EXPECT_NEAR(*growth.site_growth(0), 256 * 1024, 64 * 1024);
  // A fast refresh keeps points a second apart: the window is 30 s still.
  EXPECT_GE(growth.span(), 29s);
  EXPECT_LE(growth.span(), 31s);
}

TEST(InuseGrowth, TablesWithoutInuseAreIgnoredAndLongIntervalsStretchTheWindow) {
  InuseGrowth growth;
  SiteTable none = inuse_table(5s, {site(0, "main.a", kMiB)});
  none.records_inuse = false;
  growth.add(none);
  EXPECT_EQ(growth.span(), 0s);
  // Refreshed every 10 s: the window holds 10 points, 90 s.
  for (int i = 0; i <= 20; ++i) growth.add(inuse_table(i * 10s, {site(0, "main.a", i * 10 * kMiB)}));
  EXPECT_EQ(growth.span(), 90s);
  EXPECT_TRUE(growth.site_only_grew(0));
  EXPECT_NEAR(*growth.site_growth(0), kMiB, 1);
}

// ---- the screen ---------------------------------------------------------------------

ScreenModel fed_model(int seconds, std::string mode = "exact") {
  ScreenModel model({4242, "/srv/bin/cache", "go1.23.1", 0, std::move(mode)});
  for (int second = 0; second <= seconds; ++second) model.update(inuse_table(second * 1s, sites_at(second)));
  return model;
}

TEST(ScreenInuse, ColumnsHeaderAndLeakMarker) {
  ScreenModel model = fed_model(40);
  auto screen = model.render(140, 14);
  auto lines = text(screen);
  for (const std::string& line : lines) EXPECT_EQ(display_width(line), 140u) << dump(lines);
  const std::string* heading = find_line(lines, "CALL SITE");
  ASSERT_NE(heading, nullptr) << dump(lines);
  EXPECT_TRUE(heading->starts_with("ALLOCS/s  BYTES/s  ALLOCS     BYTES   AVG     INUSE        GROWTH/s  TYPE"))
      << dump(lines);
  // The total grows by the leak's MiB a second and what the others did in the window.
  EXPECT_TRUE(lines[2].starts_with("in use 61.3 MiB  +1.5 MiB/s over 30s  LEAK? 1 site only grew for 30s"))
      << dump(lines);
  EXPECT_TRUE(lines[1].ends_with("  exact")) << dump(lines);
  // The leak's row says so, in alert; the others do not.
  const std::string* leak = find_line(lines, "main.leak");
  ASSERT_NE(leak, nullptr);
  EXPECT_NE(leak->find("40.0 MiB  LEAK? +1.0 MiB  main.Entry"), std::string::npos) << dump(lines);
  EXPECT_NE(find_line(lines, "5.0 MiB             0 B  main.Entry  main.steady"), nullptr) << dump(lines);
  for (const ScreenLine& line : screen) {
    std::string row = line.text();
    Style style = line.spans.front().style;
    if (row.find("main.") == std::string::npos || style == Style::kSelected) continue;
    EXPECT_EQ(style == Style::kAlert, row.find("main.leak") != std::string::npos) << row;
  }
  EXPECT_NE(find_line(lines, "q Quit  a b A B i l Sort  p Pause  j k Move"), nullptr) << dump(lines);
}

TEST(ScreenInuse, SortKeysForInuseAndGrowth) {
  ScreenModel model = fed_model(40);
  type(model, "i");
  EXPECT_EQ(model.sort(), SortColumn::kInuse);
  // 40 MiB, 12 MiB, 5 MiB and what the churning site has now.
  EXPECT_EQ(functions(model), (std::vector<std::string>{"main.leak", "main.fillOnce", "main.steady", "main.churn"}));
  auto lines = text(model.render(140, 14));
  EXPECT_NE(find_line(lines, "sorted by in use"), nullptr) << dump(lines);
  type(model, "l");
  EXPECT_EQ(model.sort(), SortColumn::kGrowth);
  EXPECT_EQ(model.rows().front().site.function, "main.leak");
  EXPECT_TRUE(model.rows().front().only_grew);
  // < and > walk into the in-use columns and stop at the last.
  type(model, "B>");
  EXPECT_EQ(model.sort(), SortColumn::kInuse);
  type(model, ">>");
  EXPECT_EQ(model.sort(), SortColumn::kGrowth);
  type(model, "<");
  EXPECT_EQ(model.sort(), SortColumn::kInuse);
}

TEST(ScreenInuse, GrowthWaitsForATrend) {
  ScreenModel model = fed_model(4);
  auto lines = text(model.render(140, 14));
  EXPECT_TRUE(lines[2].starts_with("in use 9.9 MiB  growth shown from 10s")) << dump(lines);
  const std::string* leak = find_line(lines, "main.leak");
  ASSERT_NE(leak, nullptr);
  EXPECT_NE(leak->find("4.0 MiB         -  main.Entry"), std::string::npos) << dump(lines);
  EXPECT_EQ(find_line(lines, "LEAK?"), nullptr) << dump(lines);
}

TEST(ScreenInuse, NothingOfInuseWhenItIsNotRecorded) {
  ScreenModel model({4242, "/srv/bin/cache", "go1.23.1", 0, ""});
  for (int second = 0; second <= 40; ++second) {
    SiteTable t = inuse_table(second * 1s, sites_at(second));
    t.records_inuse = false;
    for (SiteTotals& s : t.sites) s.inuse = {};
    t.inuse = {};
    model.update(t);
  }
  auto lines = text(model.render(140, 14));
  EXPECT_EQ(find_line(lines, "INUSE"), nullptr) << dump(lines);
  EXPECT_EQ(find_line(lines, "GROWTH"), nullptr) << dump(lines);
  EXPECT_EQ(find_line(lines, "in use"), nullptr) << dump(lines);
  EXPECT_NE(find_line(lines, "q Quit  a b A B Sort"), nullptr) << dump(lines);
  for (const SiteRow& row : model.rows()) EXPECT_EQ(row.growth, std::nullopt);
  type(model, "i");
  EXPECT_EQ(model.sort(), SortColumn::kByteRate);
  type(model, "l");
  EXPECT_EQ(model.sort(), SortColumn::kByteRate);
  type(model, "B>>");
  EXPECT_EQ(model.sort(), SortColumn::kBytes);
}

TEST(ScreenInuse, NarrowTerminalKeepsBytesInuseAndGrowth) {
  ScreenModel model = fed_model(40);
  auto lines = text(model.render(80, 14));
  for (const std::string& line : lines) EXPECT_EQ(display_width(line), 80u) << dump(lines);
  const std::string* heading = find_line(lines, "CALL SITE");
  ASSERT_NE(heading, nullptr) << dump(lines);
  // AVG, then total ALLOCS, then ALLOCS/s give way; the site keeps its line.
  EXPECT_TRUE(heading->starts_with("BYTES/s     BYTES     INUSE        GROWTH/s  TYPE        CALL SITE")) << dump(lines);
  EXPECT_NE(find_line(lines, "40.0 MiB  LEAK? +1.0 MiB  main.Entry  main.leak  cache.go:20"), nullptr) << dump(lines);
  EXPECT_NE(find_line(lines, "main.Entry  main.fillOnce:23"), nullptr) << dump(lines);
  // The footer leaves out the movement keys to keep the refresh.
  EXPECT_TRUE(lines.back().starts_with("q Quit  a b A B i l Sort  p Pause  Enter Stack  / Filter  + - Refresh 1s"))
      << dump(lines);
  // The column sorted by stays.
  type(model, "A");
  lines = text(model.render(80, 14));
  heading = find_line(lines, "CALL SITE");
  ASSERT_NE(heading, nullptr);
  EXPECT_TRUE(heading->starts_with("BYTES/s  ALLOCS     INUSE        GROWTH/s  TYPE")) << dump(lines);
  // Narrower still: the type goes, then names are cut; the in-use columns stay.
  lines = text(model.render(48, 14));
  for (const std::string& line : lines) EXPECT_EQ(display_width(line), 48u) << dump(lines);
  EXPECT_NE(find_line(lines, "GROWTH/s"), nullptr) << dump(lines);
}

TEST(ScreenInuse, HeaderSaysHowFiguresAreTakenAndWhenThatChanged) {
  ScreenModel model = fed_model(2);
  SiteTable t = inuse_table(3s, sites_at(3));
  t.mode_note = "exact → heap samples every 512 KiB at 3s";
  model.update(t);
  auto screen = model.render(140, 14);
  auto found = std::find_if(screen.begin(), screen.end(), [](const ScreenLine& line) {
    return line.text().find("exact → heap samples") != std::string::npos;
  });
  ASSERT_NE(found, screen.end()) << dump(text(screen));
  EXPECT_EQ(found->spans.back().style, Style::kAlert);
  EXPECT_TRUE(found->text().starts_with("allocs ")) << found->text();
  // Where it does not fit beside the figures, it has a line of its own.
  auto lines = text(model.render(80, 14));
  EXPECT_TRUE(lines[2].starts_with("exact → heap samples every 512 KiB at 3s")) << dump(lines);
  EXPECT_TRUE(lines[3].starts_with("in use")) << dump(lines);
}

}  // namespace
}  // namespace gotrace
