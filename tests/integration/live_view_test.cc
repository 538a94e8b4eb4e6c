// The live view end to end, in a real terminal: tmux runs gotrace against
// the allocs fixture's steady mode, keys go in with send-keys and the screen
// comes back with capture-pane, as a user would see it.
//
// These need BPF privileges (skipped without them, like the tracer tests)
// and tmux, which scripts/setup.sh installs: without tmux they fail.
#include <gtest/gtest.h>

#include <algorithm>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <sstream>
#include <thread>

#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using testing::ChildProcess;
using testing::gotrace_binary;
using testing::local_build;
using testing::run_command;

// A tmux server of the test's own (its own socket), with one session running
// `command` in a window of a fixed size. When the command ends, its exit
// status is printed and the pane stays, so that the test can read both.
class Terminal {
 public:
  Terminal(const std::string& command, int width, int height)
      : socket_(fmt::format("gotrace-test-{}-{}", getpid(), counter_++)) {
    auto result = tmux({"new-session", "-d", "-s", "view", "-x", std::to_string(width), "-y", std::to_string(height),
                        "-e", "LANG=C.UTF-8", "-e", "TERM=tmux-256color",
                        command + "; echo gotrace-exit=$?; sleep 600"});
    started_ = result.exit_code == 0;
    EXPECT_TRUE(started_) << "tmux new-session failed: " << result.err;
  }
  ~Terminal() { tmux({"kill-server"}); }
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  bool started() const { return started_; }
  std::string screen() { return tmux({"capture-pane", "-p", "-t", "view"}).out; }
  void keys(const std::vector<std::string>& keys) {
    std::vector<std::string> args{"send-keys", "-t", "view"};
    args.insert(args.end(), keys.begin(), keys.end());
    tmux(args);
  }
  void resize(int width, int height) {
    tmux({"resize-window", "-t", "view", "-x", std::to_string(width), "-y", std::to_string(height)});
  }
  // Polls the screen until `ready` holds, for at most `timeout`; returns the
  // last screen. A screen counts once it is the same twice in a row: a
  // capture can fall between the lines of one redraw.
  std::string wait_for(const std::function<bool(const std::string&)>& ready,
                       std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
      last = screen();
      if (ready(last)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (screen() == last) return last;
        continue;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "the screen did not get there in time; it shows:\n" << last;
    return last;
  }
  std::string wait_for_text(const std::string& text, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    return wait_for([&](const std::string& s) { return s.find(text) != std::string::npos; }, timeout);
  }

 private:
  testing::CommandResult tmux(std::vector<std::string> args) {
    args.insert(args.begin(), {"tmux", "-L", socket_, "-f", "/dev/null"});
    return run_command(args);
  }

  static inline int counter_ = 0;
  std::string socket_;
  bool started_ = false;
};

class LiveView : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_BPF_PRIVILEGES();
    auto version = run_command({"tmux", "-V"});
    ASSERT_EQ(version.exit_code, 0) << "tmux is needed for the live view's tests (scripts/setup.sh installs it)";
  }

  // `gotrace attach` with `flags` on the allocs fixture's steady mode, in a
  // terminal of this size; `environment` ("NAME=value ") goes before it.
  std::unique_ptr<Terminal> attach_in_terminal(int width, int height, const std::string& flags = "",
                                               const std::string& environment = "") {
    target_ = std::make_unique<ChildProcess>(std::vector<std::string>{local_build("allocs", "plain"), "steady"});
    target_->read_until("steady");
    auto terminal = std::make_unique<Terminal>(
        fmt::format("{}{} attach {}{}", environment, gotrace_binary(), target_->pid(), flags), width, height);
    EXPECT_TRUE(terminal->started());
    return terminal;
  }

  std::unique_ptr<ChildProcess> target_;
};

std::vector<std::string> lines_of(const std::string& screen) {
  std::vector<std::string> lines;
  std::istringstream in(screen);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The table row of `function`, or "".
std::string row_of(const std::string& screen, const std::string& function) {
  for (const std::string& line : lines_of(screen))
    if (line.find("  " + function) != std::string::npos && line.find("stack") == std::string::npos) return line;
  return "";
}

// The index of the first table row that names one of the steady sites.
std::string first_steady_row(const std::string& screen) {
  for (const std::string& line : lines_of(screen))
    if (line.find("main.siteSteady") != std::string::npos) return line;
  return "";
}

// "151.7k" → 151700: the first column of a row, allocations per second.
double first_number(const std::string& row) {
  std::istringstream in(row);
  std::string cell;
  in >> cell;
  if (cell.empty()) return -1;
  double value = std::strtod(cell.c_str(), nullptr);
  switch (cell.back()) {
    case 'k': return value * 1e3;
    case 'M': return value * 1e6;
    case 'G': return value * 1e9;
  }
  return value;
}

// "traced 12s" from the header, where it may end the line (a long path).
std::string traced_for(const std::string& screen) {
  size_t at = screen.find("traced ");
  return at == std::string::npos ? "" : screen.substr(at, screen.find_first_of(" \n", at + 7) - at);
}

TEST_F(LiveView, ShowsTheHotSitesLiveSortsOpensStacksAndQuits) {
  auto view = attach_in_terminal(120, 40);
  Terminal& terminal = *view;
  ChildProcess& target = *target_;

  // The three steady sites appear within a few seconds, with a header.
  std::string screen = terminal.wait_for([](const std::string& s) {
    // Rates over a whole interval: from the second refresh on.
    std::string traced = traced_for(s);
    return s.find("main.siteSteadyA") != std::string::npos && s.find("main.siteSteadyB") != std::string::npos &&
           s.find("main.siteSteadyC") != std::string::npos && !traced.empty() && traced != "traced 0s" &&
           traced != "traced 1s";
  });
  EXPECT_NE(screen.find(fmt::format("gotrace  pid {}  go1.", target.pid())), std::string::npos) << screen;
  EXPECT_NE(screen.find("CALL SITE"), std::string::npos) << screen;
  EXPECT_NE(screen.find("lost 0"), std::string::npos) << screen;
  EXPECT_NE(screen.find("q Quit"), std::string::npos) << screen;
  // The fixture's heap profiling is on (MemProfileRate 1): in use is shown,
  // and how the figures are taken.
  EXPECT_NE(screen.find("INUSE"), std::string::npos) << screen;
  EXPECT_NE(screen.find("in use "), std::string::npos) << screen;
  EXPECT_TRUE(screen.find("exact (guard 3%)") != std::string::npos ||
              screen.find("exact, then heap samples at") != std::string::npos)
      << screen;
  // Plausible rates: A allocates three times as often as B, main.Record
  // there and main.Pair here, and the site's file and line are shown.
  std::string a = row_of(screen, "main.siteSteadyA"), b = row_of(screen, "main.siteSteadyB");
  double a_rate = first_number(a), b_rate = first_number(b);
  EXPECT_GT(b_rate, 1000) << screen;
  EXPECT_NEAR(a_rate / b_rate, 3.0, 0.3) << screen;
  EXPECT_NE(a.find("main.Record"), std::string::npos) << a;
  EXPECT_NE(b.find("main.Pair"), std::string::npos) << b;
  EXPECT_NE(a.find("main.go:"), std::string::npos) << a;

  // Sorted by bytes per second: C, which allocates rarely but big, leads.
  EXPECT_NE(first_steady_row(screen).find("main.siteSteadyC"), std::string::npos) << screen;
  // The figures refresh.
  std::string before = traced_for(screen);
  screen = terminal.wait_for([&](const std::string& s) { return traced_for(s) != before; });
  // By allocations per second, A leads and C comes last of the three.
  terminal.keys({"a"});
  screen = terminal.wait_for_text("sorted by allocs/s");
  EXPECT_NE(first_steady_row(screen).find("main.siteSteadyA"), std::string::npos) << screen;
  EXPECT_LT(screen.find("main.siteSteadyB"), screen.find("main.siteSteadyC")) << screen;

  // Enter on the top row shows its stacks, symbolized, to the program's main.
  terminal.keys({"Home", "Enter"});
  screen = terminal.wait_for_text("stack 1 of");
  EXPECT_NE(screen.find("main.siteSteadyA"), std::string::npos) << screen;
  EXPECT_NE(screen.find("  main.steady "), std::string::npos) << screen;
  EXPECT_NE(screen.find("tests/fixtures/allocs/main.go:"), std::string::npos) << screen;
  EXPECT_NE(screen.find("Esc Back"), std::string::npos) << screen;
  terminal.keys({"Escape"});
  screen = terminal.wait_for_text("CALL SITE");

  // q quits cleanly: the terminal is back, the summary follows, status 0.
  terminal.keys({"q"});
  screen = terminal.wait_for_text("gotrace-exit=");
  EXPECT_NE(screen.find("gotrace-exit=0"), std::string::npos) << screen;
  EXPECT_NE(screen.find(fmt::format("gotrace: traced pid {} for", target.pid())), std::string::npos) << screen;
  EXPECT_NE(screen.find("main.siteSteadyA"), std::string::npos) << "the table printed at the end\n" << screen;
  EXPECT_EQ(screen.find("q Quit"), std::string::npos) << "the view is gone\n" << screen;
  target.close_stdin();
  EXPECT_EQ(target.wait(), 0);
}

TEST_F(LiveView, ReadableInEightyByTwentyFourAndFollowsResizes) {
  auto view = attach_in_terminal(80, 24);
  Terminal& terminal = *view;
  ChildProcess& target = *target_;
  std::string screen = terminal.wait_for([](const std::string& s) {
    return s.find("main.siteSteadyA") != std::string::npos && s.find("main.siteSteadyC") != std::string::npos;
  });
  std::vector<std::string> lines = lines_of(screen);
  ASSERT_EQ(lines.size(), 24u) << screen;
  EXPECT_TRUE(lines[0].starts_with(fmt::format("gotrace  pid {}", target.pid()))) << screen;
  // Where the trace records memory in use, a line of the header says how
  // much, and the table has its columns, for which others give way on 80
  // columns (AVG first).
  // (The header has a line more when the mode's note does not fit beside
  // the totals: "exact, then heap samples at 0.3s", after the guard fell back.)
  bool inuse = lines[2].starts_with("in use ") || lines[3].starts_with("in use ");
  size_t heading_at = inuse ? 4 : 3;
  if (lines[2].starts_with("exact") || lines[2].starts_with("estimates")) ++heading_at;
  const std::string& heading = lines[heading_at];
  EXPECT_NE(heading.find("BYTES/s"), std::string::npos) << screen;
  EXPECT_NE(heading.find("TYPE"), std::string::npos) << screen;
  EXPECT_NE(heading.find("CALL SITE"), std::string::npos) << screen;
  if (inuse) {
    EXPECT_NE(heading.find("  INUSE  "), std::string::npos) << screen;
    EXPECT_NE(heading.find("  GROWTH/s  "), std::string::npos) << screen;
    EXPECT_EQ(heading.find("AVG"), std::string::npos) << screen;
    EXPECT_TRUE(lines[23].starts_with("q Quit  a b A B i l Sort  p Pause  Enter Stack  / Filter  + - Refresh 1s"))
        << screen;
  } else {
    EXPECT_TRUE(heading.starts_with("ALLOCS/s")) << screen;
    EXPECT_TRUE(
        lines[23].starts_with("q Quit  a b A B Sort  p Pause  j k Move  Enter Stack  / Filter  + - Refresh 1s"))
        << screen;
  }
  // With the in-use columns the type may be cut to its head, to keep the
  // top row's file (the layout's trade, screen_site_list.cc).
  EXPECT_NE(row_of(screen, "main.siteSteadyA").find(inuse ? "main.Reco" : "main.Record"), std::string::npos)
      << screen;

  // Wider: the same view, laid out again with room for files.
  terminal.resize(140, 30);
  screen = terminal.wait_for([](const std::string& s) {
    auto lines = lines_of(s);
    return lines.size() == 30 && lines[29].starts_with("q Quit") &&
           s.find("main.siteSteadyA  main.go:") != std::string::npos;
  });
  // Narrower again: laid out for 80 columns (whether the file still fits
  // depends on the columns the mode shows).
  terminal.resize(80, 24);
  screen = terminal.wait_for([](const std::string& s) {
    auto lines = lines_of(s);
    return lines.size() == 24 && lines[23].starts_with("q Quit") &&
           std::all_of(lines.begin(), lines.end(), [](const std::string& line) {
             // Characters, not bytes: an ellipsis is three bytes of UTF-8.
             return std::count_if(line.begin(), line.end(), [](char c) { return (c & 0xC0) != 0x80; }) <= 80;
           }) &&
           s.find("main.siteSteadyA") != std::string::npos;
  });

  // Ctrl-C stops as it does without the view, and gives the terminal back.
  terminal.keys({"C-c"});
  screen = terminal.wait_for_text("gotrace-exit=");
  EXPECT_NE(screen.find("gotrace-exit=0"), std::string::npos) << screen;
  // The view is gone and the summary printed (its first lines may have
  // scrolled off 24 rows when the guard's notes make it long).
  EXPECT_EQ(screen.find("q Quit"), std::string::npos) << screen;
  EXPECT_NE(screen.find("gotrace: "), std::string::npos) << screen;
}

TEST_F(LiveView, KeepsTheLastFiguresWhenTheTargetExits) {
  std::string folded = fmt::format("/tmp/gotrace-live-view-{}.folded", getpid());
  auto view = attach_in_terminal(100, 30, " --folded " + folded);
  Terminal& terminal = *view;
  ChildProcess& target = *target_;
  terminal.wait_for_text("main.siteSteadyA");
  target.close_stdin();
  EXPECT_EQ(target.wait(), 0);
  std::string screen = terminal.wait_for_text("has exited; these are its last figures. q quits.");
  EXPECT_NE(screen.find("EXITED"), std::string::npos) << screen;
  EXPECT_NE(screen.find("main.siteSteadyA"), std::string::npos) << screen;
  // It stays until q, and the files are written then.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_NE(terminal.screen().find("EXITED"), std::string::npos);
  terminal.keys({"q"});
  screen = terminal.wait_for_text("gotrace-exit=");
  EXPECT_NE(screen.find("gotrace-exit=0"), std::string::npos) << screen;
  EXPECT_NE(screen.find("(until it exited)"), std::string::npos) << screen;
  EXPECT_EQ(run_command({"grep", "-q", ";main.siteSteadyA ", folded}).exit_code, 0) << "the folded stacks were written";
  std::remove(folded.c_str());
}

TEST_F(LiveView, TerminalThatCannotPlaceTheCursorTracesWithoutIt) {
  auto view = attach_in_terminal(100, 30, " -d 1s", "TERM=dumb ");
  std::string screen = view->wait_for_text("gotrace-exit=");
  EXPECT_NE(screen.find("gotrace: no live view: TERM=dumb cannot place the cursor\n"), std::string::npos) << screen;
  EXPECT_NE(screen.find("gotrace-exit=0"), std::string::npos) << screen;
  EXPECT_NE(screen.find("main.siteSteadyA /"), std::string::npos) << "the table at the end\n" << screen;
}

TEST_F(LiveView, RunWithTuiSendsTheProgramsOutputToAFile) {
  std::string output = fmt::format("/tmp/gotrace-live-view-{}.out", getpid());
  // The fixture's plain mode prints its report on stdout, then exits.
  Terminal terminal(fmt::format("{} run --tui --program-output {} -- {}", gotrace_binary(), output,
                                local_build("allocs", "plain")),
                    100, 30);
  ASSERT_TRUE(terminal.started());
  terminal.wait_for_text("EXITED", std::chrono::seconds(60));
  // Some seventy sites: the filter finds the one this test looks for.
  terminal.keys({"/", "sitePlain", "Enter"});
  std::string screen = terminal.wait_for_text(" sites match \"sitePlain\"");
  EXPECT_NE(screen.find("1 of "), std::string::npos) << screen;
  EXPECT_NE(row_of(screen, "main.sitePlain").find("main.Record"), std::string::npos) << screen;
  terminal.keys({"q"});
  screen = terminal.wait_for_text("gotrace-exit=");
  EXPECT_NE(screen.find("gotrace-exit=0"), std::string::npos) << screen;
  EXPECT_EQ(screen.find("expect main."), std::string::npos) << "the program's output is not on the screen\n" << screen;
  EXPECT_EQ(run_command({"grep", "-q", "^expect main.sitePlain", output}).exit_code, 0) << "but in the file";
  std::remove(output.c_str());
}

// "2 of 140" from the header's "2 of 140 sites match ...".
std::string matching_sites(const std::string& screen) {
  size_t end = screen.find(" sites match");
  size_t start = end == std::string::npos ? std::string::npos : screen.rfind("  ", end);
  return start == std::string::npos ? "" : screen.substr(start + 2, end - start - 2);
}

// run --follow: the spawner fixture and the two allocs children it starts,
// each named in a PROCESS column, and Tab narrows the view to one of them.
TEST_F(LiveView, RunFollowNamesEachProcessAndTabShowsOneAtATime) {
  testing::ScratchDirectory outdir("live-view-follow");
  testing::ScratchFile output("live-view-follow.out");
  std::string allocs = local_build("allocs", "plain");
  Terminal terminal(fmt::format("{} run --follow --tui --program-output {} -- {} {} {} :: {}", gotrace_binary(),
                                output.path(), local_build("spawner", "plain"), outdir.path(), allocs, allocs),
                    120, 40);
  ASSERT_TRUE(terminal.started());
  terminal.wait_for_text("EXITED", std::chrono::seconds(90));
  // The spawner said its children's pids on its stdout, which went to the file.
  std::vector<std::string> children;
  for (const std::string& line : lines_of(testing::read_file(output.path())))
    if (line.starts_with("started ")) children.push_back(line.substr(8, line.find('\t') - 8));
  ASSERT_EQ(children.size(), 2u) << testing::read_file(output.path());

  // Both children allocate at main.sitePlain: a row each, named by process.
  terminal.keys({"/", "sitePlain", "Enter"});
  std::string screen = terminal.wait_for_text(" sites match \"sitePlain\"");
  EXPECT_NE(screen.find("gotrace  all 3 processes, 0 running"), std::string::npos) << screen;
  EXPECT_NE(screen.find("PROCESS"), std::string::npos) << screen;
  EXPECT_TRUE(matching_sites(screen).starts_with("2 of ")) << screen;
  for (const std::string& pid : children)
    EXPECT_NE(screen.find(fmt::format("allocs:{}  newobject  main.Record  main.sitePlain", pid)), std::string::npos) << screen;

  // Tab goes through the processes one at a time: the header names the one
  // shown, and the other child's row is gone with the column.
  std::string alone = fmt::format("gotrace  allocs:{} (", children[0]);
  for (int presses = 0; presses < 4 && terminal.screen().find(alone) == std::string::npos; ++presses) {
    terminal.keys({"Tab"});
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  screen = terminal.wait_for_text(alone);
  EXPECT_TRUE(matching_sites(screen).starts_with("1 of ")) << screen;
  EXPECT_NE(row_of(screen, "main.sitePlain").find("main.Record"), std::string::npos) << screen;
  EXPECT_EQ(screen.find("PROCESS"), std::string::npos) << screen;
  EXPECT_EQ(screen.find(fmt::format("allocs:{}", children[1])), std::string::npos) << screen;

  terminal.keys({"q"});
  screen = terminal.wait_for_text("gotrace-exit=");
  EXPECT_NE(screen.find("gotrace-exit=0"), std::string::npos) << screen;
}

}  // namespace
}  // namespace gotrace
