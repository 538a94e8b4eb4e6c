// Every number and duration the command line takes, given values a script
// or a typo could pass: each is a usage error (exit 2) of one line on stderr
// that names the flag, given before anything is looked at, attached, started
// or written. `-d nans` once parsed as a duration and the trace never ended;
// `-d ""` once meant no limit.
//
// To cover a new numeric flag, add a row to kFlags: how its error names it,
// the command line with the value in place, and the values to try (the
// shared lists for its kind, plus its own out-of-range ones).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;
using Values = std::vector<std::string>;

// What a command line of the table may use: a live Go process, a Go binary,
// and paths that must still not exist after gotrace has refused a value.
struct Context {
  std::string pid;
  std::string go_binary;
  std::string pprof;
  std::string folded;
  std::string marker;  // what the program `run` would start creates
};

struct NumericFlag {
  std::string named_as;  // as the error names it: "-d/--duration"
  std::function<Values(const Context&, const std::string& value)> command;
  Values bad_values;
};

Values operator+(Values a, const Values& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Bad for every whole number gotrace takes.
const Values kBadWholeNumbers = {"",    " 1",  "1 ",   "\t1",   "1\n",  "-1",  "+1",    "0x10",
                                 "010x", "1e3", "1E+3", "1.5",  "1,000", "12abc", "abc", "nan",
                                 "inf",  "0",   "00",   "18446744073709551616", "99999999999999999999999999"};
// Bad for every duration.
const Values kBadDurations = {"",      " 5s",  "5s ",   "5 s",  "-5s", "+5s", "nans", "nanms", "NaNs",
                              "inf",   "infs", "-infs", "1e3s", "1E3s", "0x10s", "10",   "10x",   "5us",
                              "1d",    "s",    "5s5",   "1h-5m", "1.2.3s", "0s", "0h0m", "0.0000000001s",
                              "1000000001s", "300000h", "99999999999999999999999h"};

const std::vector<NumericFlag> kFlags = {
    {"PID",
     [](const Context& c, const std::string& v) { return Values{"attach", v, "-d", "1s", "-o", c.pprof}; },
     kBadWholeNumbers + Values{"4194304"}},
    {"-d/--duration",
     [](const Context& c, const std::string& v) {
       return Values{"attach", c.pid, "-d", v, "-o", c.pprof, "--folded", c.folded};
     },
     kBadDurations},
    {"-d/--duration",
     [](const Context& c, const std::string& v) { return Values{"attach", c.pid, "--duration=" + v, "-o", c.pprof}; },
     kBadDurations},
    {"--sample-rate",
     [](const Context& c, const std::string& v) {
       return Values{"attach", c.pid, "-d", "1s", "--sample-rate", v, "-o", c.pprof};
     },
     kBadWholeNumbers + Values{"1099511627777"}},
    {"--sample-rate",
     [](const Context& c, const std::string& v) {
       return Values{"run", "--sample-rate", v, "-o", c.pprof, "--", "/usr/bin/touch", c.marker};
     },
     kBadWholeNumbers + Values{"1099511627777"}},
    {"--max-memory",
     [](const Context& c, const std::string& v) {
       return Values{"attach", c.pid, "-d", "1s", "--max-memory", v, "-o", c.pprof};
     },
     Values{"", " 1GiB", "1GiB ", "-1GiB", "+1GiB", "1e9", "0x10MiB", "1.GiB", ".5GiB", "1 GiB", "1GiBB", "1PiB",
            "abc", "nan", "inf", "0", "0MiB", "1MiB", "4194303", "99999999999999999999999999GiB"}},
    // Only a TARGET of digits is a pid (anything else is a file name); ""
    // is neither.
    {"TARGET", [](const Context&, const std::string& v) { return Values{"info", v}; },
     Values{"", "0", "000", "4194304", "18446744073709551616", "99999999999999999999999999"}},
    {"ADDR",
     [](const Context& c, const std::string& v) { return Values{"symbolize", c.go_binary, "0x1000", v}; },
     Values{"", " 0x1", "0x1 ", "-1", "+1", "0x", "0xzz", "0x1g", "0x0x1", "0x10000000000000000"}},
};

TEST(BadValues, EveryNumericFlagRefusesEveryBadValueBeforeDoingAnything) {
  ChildProcess target({local_build("allocs", "plain"), "steady"});
  target.read_until("steady");
  ScratchFile pprof("bad-values.pb.gz"), folded("bad-values.folded"), marker("bad-values.ran");
  Context context{std::to_string(target.pid()), local_build("allocs", "plain"), pprof.path(), folded.path(),
                  marker.path()};
  int rows = 0;
  for (const NumericFlag& flag : kFlags) {
    for (const std::string& value : flag.bad_values) {
      Values args = flag.command(context, value);
      SCOPED_TRACE(::testing::Message() << "gotrace " << ::testing::PrintToString(args));
      // Bounded: a duration read as "no limit" would trace on for ever.
      args.insert(args.begin(), {"timeout", "20", gotrace_binary()});
      CommandResult result = run_command(args);
      EXPECT_EQ(result.exit_code, 2) << result.err;
      EXPECT_TRUE(result.err.starts_with("gotrace: error: " + flag.named_as + " '")) << result.err;
      EXPECT_TRUE(result.err.ends_with("\n") && result.err.find('\n') == result.err.size() - 1) << result.err;
      EXPECT_EQ(result.out, "");
      EXPECT_FALSE(std::filesystem::exists(pprof.path()));
      EXPECT_FALSE(std::filesystem::exists(folded.path()));
      EXPECT_FALSE(std::filesystem::exists(marker.path())) << "the program of `run` was started";
      ++rows;
    }
  }
  EXPECT_GE(rows, 100);  // the table is all there
  // The target never noticed: it still runs, and ends as asked.
  EXPECT_EQ(kill(target.pid(), 0), 0);
  target.close_stdin();
  EXPECT_EQ(target.wait(), 0);
}

// The same flags with good values go past the parser (to the runtime
// errors of a process that does not exist), so that the table above cannot
// pass because every value is refused.
TEST(BadValues, GoodValuesOfTheSameFlagsAreTaken) {
  REQUIRE_BPF_PRIVILEGES();  // attach checks them first
  for (Values args : {Values{"attach", "4194303", "-d", "1h30m"}, Values{"attach", "4194303", "--duration=.5s"},
                      Values{"attach", "4194303", "--sample-rate", "524288"},
                      Values{"attach", "4194303", "--max-memory", "4MiB"},
                      Values{"attach", "4194303", "--max-memory", "1.5g"},
                      Values{"info", "4194303"}}) {
    CommandResult result = run_gotrace(args);
    EXPECT_EQ(result.exit_code, 1) << ::testing::PrintToString(args) << ": " << result.err;
    EXPECT_NE(result.err.find("no such process"), std::string::npos) << result.err;
  }
}

}  // namespace
}  // namespace gotrace
