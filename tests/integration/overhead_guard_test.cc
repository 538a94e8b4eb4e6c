// attach's overhead guard: exact tracing while what it costs the target fits
// in --max-overhead, the runtime's heap-profile samples past it. Each case
// sits at least ten times off the budget, whatever a busy shared machine
// does to the measured cost of a probe hit, so that no decision is a close
// call; no assertion is on a time.
//
// These need root (or CAP_SYS_ADMIN). CI runs as
// root; a developer run without them skips with the reason printed.
#include <gtest/gtest.h>

#include "tests/integration/pprof_raw.h"
#include "tests/support/child_process.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;

// `gotrace attach` for 3 seconds to the allocs fixture running `mode`,
// which prints `ready` once it runs; `extra` are gotrace's options.
struct GuardedTrace {
  CommandResult result;
  pid_t pid = 0;
  PprofSites sites;
};
GuardedTrace attach_to(const std::vector<std::string>& mode, const std::string& ready,
                       const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {local_build("allocs", "plain")};
  argv.insert(argv.end(), mode.begin(), mode.end());
  ChildProcess target(argv);
  target.read_until(ready);
  ScratchFile pprof("guard.pb.gz");
  std::vector<std::string> args = {"attach", std::to_string(target.pid()), "--no-tui", "-d", "3s", "-o", pprof.path()};
  args.insert(args.end(), extra.begin(), extra.end());
  GuardedTrace trace;
  trace.pid = target.pid();
  trace.result = run_gotrace(args);
  target.close_stdin();
  EXPECT_EQ(target.wait(), 0);
  if (trace.result.exit_code == 0) trace.sites = read_pprof_sites(pprof.path());
  return trace;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void expect_fell_back(const GuardedTrace& trace, const std::string& budget) {
  const std::string& err = trace.result.err;
  EXPECT_TRUE(has(err, fmt::format("gotrace: exact tracing costs pid {} ", trace.pid))) << err;
  EXPECT_TRUE(has(err, fmt::format("over --max-overhead {}: the runtime's heap-profile samples stand for the "
                                   "allocations from now on (estimates); --exact records every allocation "
                                   "whatever it costs\n",
                                   budget)))
      << err;
  EXPECT_TRUE(has(err, fmt::format("gotrace: exact tracing would cost pid {} ", trace.pid))) << err;
  EXPECT_TRUE(has(err, fmt::format("over --max-overhead {}: from ", budget))) << err;
  EXPECT_TRUE(has(err, "s on, the runtime's heap-profile samples stand for the allocations (estimates)")) << err;
  EXPECT_TRUE(has(trace.sites.raw, "Comment: gotrace: exact tracing would cost the program ")) << trace.sites.raw;
  EXPECT_TRUE(has(trace.sites.raw, fmt::format("over --max-overhead {}: from ", budget))) << trace.sites.raw;
}

void expect_stayed_exact(const GuardedTrace& trace, const std::string& budget) {
  const std::string& err = trace.result.err;
  EXPECT_FALSE(has(err, "gotrace: exact tracing costs pid")) << err;
  EXPECT_TRUE(has(err, fmt::format("gotrace: exact tracing cost pid {} about ", trace.pid))) << err;
  EXPECT_TRUE(has(err, fmt::format(", within --max-overhead {}\n", budget))) << err;
  EXPECT_FALSE(has(trace.sites.raw, "over --max-overhead")) << trace.sites.raw;
  EXPECT_TRUE(has(trace.sites.raw, "Comment: gotrace: every allocation of pid ")) << trace.sites.raw;
}

// At least 99.9% of the objects allocated at `function` are of `type`.
void expect_type_of_site(PprofSites& sites, const std::string& function, const std::string& type) {
  int64_t all = 0;
  std::string types;
  for (const auto& [name, objects] : sites.types_by_function[function]) {
    all += objects;
    types += fmt::format(" {}:{}", name, objects);
  }
  EXPECT_GE(sites.types_by_function[function][type] * 1000, all * 999) << function << " types:" << types;
}

TEST(OverheadGuard, FallsBackToHeapSamplesWhenEveryAllocationCostsTooMuch) {
  REQUIRE_BPF_PRIVILEGES();
  // allocs steady allocates flat out: a probe hit (a microsecond or more)
  // for every allocation (tens of nanoseconds) is hundreds of times the 3%.
  GuardedTrace trace = attach_to({"steady"}, "steady");
  ASSERT_EQ(trace.result.exit_code, 0) << trace.result.err;
  expect_fell_back(trace, "3%");
  // Its sites are still there, at MemProfileRate 1 counted whole on both
  // sides of the switch: three of main.siteSteadyA's records to one of
  // main.siteSteadyB's pairs, each with its type.
  auto& a = trace.sites.by_function["main.siteSteadyA"];
  auto& b = trace.sites.by_function["main.siteSteadyB"];
  ASSERT_GT(b.objects, 1000) << trace.sites.raw.substr(0, 4000);
  EXPECT_NEAR(double(a.objects) / double(b.objects), 3.0, 0.03);
  // The runtime may allocate for itself inside a site (when a collection
  // starts there): the site's own type is all but a handful of its objects.
  expect_type_of_site(trace.sites, "main.siteSteadyA", "main.Record");
  expect_type_of_site(trace.sites, "main.siteSteadyB", "main.Pair");
}

TEST(OverheadGuard, StaysExactOnABusyProgramThatAllocatesRarely) {
  REQUIRE_BPF_PRIVILEGES();
  // allocs compute 5000000: about 10 ms of arithmetic per allocation, so
  // that even a probe hit timed at 25 µs on a loaded machine (the trap's
  // cost is timed at start) is 0.3% of its CPU, a tenth of the budget.
  GuardedTrace trace = attach_to({"compute", "5000000"}, "compute");
  ASSERT_EQ(trace.result.exit_code, 0) << trace.result.err;
  expect_stayed_exact(trace, "3%");
  EXPECT_GT(trace.sites.by_function["main.siteRare"].objects, 0) << trace.sites.raw.substr(0, 4000);
}

TEST(OverheadGuard, KeepsToTheBudgetGiven) {
  REQUIRE_BPF_PRIVILEGES();
  // allocs compute 100000: one allocation per 0.2 ms or so of work, a probe
  // hit 0.5% to 10% of it (1 to 20 µs, as busy as the machine is): over a
  // budget of 0.05%, well within one of 100%.
  GuardedTrace within = attach_to({"compute", "100000"}, "compute", {"--max-overhead", "100"});
  ASSERT_EQ(within.result.exit_code, 0) << within.result.err;
  expect_stayed_exact(within, "100%");
  GuardedTrace over = attach_to({"compute", "100000"}, "compute", {"--max-overhead", "0.05"});
  ASSERT_EQ(over.result.exit_code, 0) << over.result.err;
  expect_fell_back(over, "0.05%");
  EXPECT_GT(over.sites.by_function["main.siteRare"].objects, 0) << over.sites.raw.substr(0, 4000);
}

TEST(OverheadGuard, ModesExcludeEachOther) {
  const std::string message =
      "--heap, --exact, --sample/--sample-rate and --max-overhead exclude each other: each says how allocations "
      "are seen";
  expect_one_line_error(run_gotrace({"attach", "1", "--heap", "--exact"}), 2, message);
  expect_one_line_error(run_gotrace({"attach", "1", "--max-overhead", "3", "--exact"}), 2, message);
  expect_one_line_error(run_gotrace({"run", "--sample", "--heap", "--", "true"}), 2, message);
  expect_one_line_error(run_gotrace({"run", "--sample-rate", "4096", "--max-overhead", "3", "--", "true"}), 2,
                        message);
}

TEST(OverheadGuard, BadBudgets) {
  const std::string digits =
      "is not a digit or a decimal point (a percentage is digits, a fraction if wanted, and an optional %: 3, 0.5, "
      "10%)";
  for (const auto& [value, cause] : std::vector<std::pair<std::string, std::string>>{
           {"0", "not more than 0%"},
           {"101", "more than 100%"},
           {"abc", "'a' " + digits},
           {"-1", "'-' " + digits},
           {"", "empty"}}) {
    expect_one_line_error(run_gotrace({"attach", "1", "--max-overhead", value}), 2,
                          fmt::format("--max-overhead '{}': not a percentage: {}", value, cause));
  }
}

}  // namespace
}  // namespace gotrace
