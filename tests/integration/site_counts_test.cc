// The tracer's figures site by site against what the allocs fixture did and
// against the runtime's own exact heap profile of the same run, on every
// build of the fixture matrix; and sampled, against the exact figures.
//
// These need root (or CAP_SYS_ADMIN). CI runs as
// root; a developer run without them skips with the reason printed.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <set>
#include <sstream>

#include "tests/integration/allocs_report.h"
#include "tests/integration/pprof_raw.h"
#include "tests/integration/traced_run.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;

// Every allocation request is one object, the tiny allocator's included.
void expect_objects_at_every_site(const AllocsReport& report, PprofSites& got, bool collecting,
                                  const std::string& gotrace_stderr) {
  for (const auto& [function, expected] : report.expected) {
    SCOPED_TRACE(function);
    const ObjectsAndBytes& totals = got.by_function[function];
    if (!collecting) {
      EXPECT_EQ(totals.objects, expected.count);
      if (expected.tiny) {
        EXPECT_EQ(totals.bytes, expected.count * expected.size);
      }
    } else {
      EXPECT_PRED2(nearly_equal, totals.objects, expected.count);
      if (expected.tiny) {
        EXPECT_GE(totals.bytes, expected.count * expected.size);
      }
    }
  }
  if (::testing::Test::HasFailure()) {
    std::string sites;
    for (const auto& [function, totals] : got.by_function)
      if (totals.objects >= 1000) sites += fmt::format("  {} {} {}\n", function, totals.objects, totals.bytes);
    ADD_FAILURE() << "leaf functions in the profile:\n" << sites << "gotrace said:\n" << gotrace_stderr;
  }
}

// Bytes, and objects too, agree with the runtime's own exact profile at
// every site the fixture made, except where the tiny allocator served it
// (the runtime records one object per 16-byte block there). With the
// collector on, within max(3, 0.1%), and not the bytes of the string site.
struct RuntimeComparison {
  int sites = 0;
  int64_t largest_difference = 0;  // in objects
};
RuntimeComparison expect_sites_match_the_runtime(const AllocsReport& report, PprofSites& got, bool collecting) {
  std::set<std::string> compared, untiny;
  for (const auto& [function, expected] : report.expected)
    if (!expected.tiny) untiny.insert(function);
  RuntimeComparison comparison;
  for (const auto& [site, runtime] : report.runtime_sites) {
    if (!untiny.count(site.first)) continue;
    SCOPED_TRACE(fmt::format("{} line {}", site.first, site.second));
    compared.insert(site.first);
    ++comparison.sites;
    const ObjectsAndBytes& totals = got.by_site[site];
    comparison.largest_difference =
        std::max(comparison.largest_difference, std::abs(totals.objects - runtime.objects));
    if (!collecting) {
      EXPECT_EQ(totals, runtime);
    } else {
      EXPECT_PRED2(nearly_equal, totals.objects, runtime.objects);
      if (site.first != "main.siteConcat") {
        EXPECT_PRED2(nearly_equal, totals.bytes, runtime.bytes);
      }
    }
  }
  EXPECT_EQ(compared, untiny) << "sites the runtime's profile was compared at";
  return comparison;
}

// The type of each site's allocations, as the fixture's own reflect names
// it. Inside generic code the runtime is handed the instantiation's GC
// shape (main.Box[go.shape.int] for main.Box[int]), so there only the
// generic type's name is compared.
void expect_types_at_every_site(const AllocsReport& report, PprofSites& got) {
  EXPECT_EQ(report.types.size(), report.expected.size()) << "the fixture names a type for every site";
  for (const auto& [function, names] : report.types) {
    SCOPED_TRACE(function);
    std::set<std::string> got_types;
    const auto& site_types = got.types_by_function[function];
    int64_t site_objects = 0;
    for (const auto& [type, objects] : site_types) site_objects += objects;
    for (const auto& [type, objects] : site_types)
      if (objects * 10 >= site_objects) got_types.insert(type);  // not the runtime's own odd allocation
    if (names.size() == 1 && names.begin()->find('[') == std::string::npos) {
      EXPECT_EQ(got_types, names);
    } else {
      std::set<std::string> generic_names;
      for (const std::string& name : names) generic_names.insert(name.substr(0, name.find('[')));
      std::set<std::string> got_generic;
      for (const std::string& name : got_types) got_generic.insert(name.substr(0, name.find('[')));
      EXPECT_EQ(got_generic, generic_names);
      EXPECT_EQ(got_types.size(), names.size());
    }
  }
}

// Why a line of the folded stacks is misshapen, or nullptr.
const char* misshapen(const AllocsReport& report, const std::string& stack, const std::string& leaf) {
  std::string root = stack.substr(0, stack.find(';'));
  if (root.empty() || leaf.empty() || stack.find(";;") != std::string::npos) return "an empty frame";
  if (root == "[truncated]") return "cut short";
  if (root == "runtime.goexit") return "a runtime.goexit root, which Go's own profiles leave out";
  if (report.expected.count(leaf) && root != "runtime.main" && !root.starts_with("main."))
    return "a site's stack that does not start at runtime.main or a goroutine of the fixture";
  return nullptr;
}

// The folded stacks: root first, the site's function last, counts summed.
// As in Go's own profiles there is no runtime.goexit root: a stack of the
// main goroutine starts at runtime.main, one of a goroutine the fixture
// started at that goroutine's own function.
void expect_folded_stacks(const AllocsReport& report, const std::string& folded_text, bool collecting) {
  std::map<std::string, int64_t> folded_by_leaf;
  std::vector<std::string> misshapen_lines;  // "why: line"
  std::istringstream folded(folded_text);
  for (std::string line; std::getline(folded, line);) {
    size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    std::string stack = line.substr(0, space);
    std::string leaf = collapse_type_arguments(stack.substr(stack.rfind(';') + 1));
    if (const char* why = misshapen(report, stack, leaf))
      misshapen_lines.push_back(fmt::format("{}: {}", why, line.substr(0, 300)));
    folded_by_leaf[leaf] += std::stoll(line.substr(space + 1));
  }
  if (!misshapen_lines.empty()) {
    std::string text;
    for (size_t i = 0; i < misshapen_lines.size() && i < 10; ++i) text += "  " + misshapen_lines[i] + "\n";
    ADD_FAILURE() << misshapen_lines.size() << " folded stacks are misshapen, e.g.:\n" << text;
  }
  for (const auto& [function, expected] : report.expected) {
    if (!collecting) {
      EXPECT_EQ(folded_by_leaf[function], expected.count) << function;
    } else {
      EXPECT_PRED2(nearly_equal, folded_by_leaf[function], expected.count) << function;
    }
  }
}

TEST(Tracer, RunCountsEverySiteExactlyOnEveryToolchain) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchFile pprof("run.pb.gz"), folded("run.folded");
  // Every build runs twice: with the collector off during the workload, where
  // every site's figures are exact; and with it on and GOGC=5, so that
  // collections start inside the sites. The runtime then allocates for itself
  // there: mark workers, with runtime.malg under runtime.systemstack, which
  // its own profile keeps under a runtime.systemstack root and not under the
  // user's site; and now and then something on the goroutine's own stack
  // (a sudog, say), which both profiles put at the site.
  for (const FixtureBuild& build : fixture_builds("allocs")) {
    for (bool collecting : {false, true}) {
      SCOPED_TRACE(build.label() + (collecting ? " (allocs gc, GOGC=5)" : " (allocs, collector off)"));
      std::vector<std::string> argv = {gotrace_binary(), "run", "-o", pprof.path(), "--folded", folded.path(),
                                       "--", build.path};
      if (collecting) {
        argv.insert(argv.begin(), {"env", "GOGC=5"});
        argv.push_back("gc");
      }
      auto result = run_command(argv);
      ASSERT_EQ(result.exit_code, 0) << result.err;
      EXPECT_NE(result.err.find("gotrace: attached to pid "), std::string::npos) << result.err;
      EXPECT_NE(result.err.find("(until it exited)"), std::string::npos) << result.err;
      expect_nothing_lost(result.err);

      AllocsReport report = parse_allocs_report(result.out);
      ASSERT_GE(report.expected.size(), 10u) << result.out;
      if (collecting) {
        EXPECT_GE(report.collections, 10) << "too few collections during the workload to start inside the sites";
      } else {
        EXPECT_EQ(report.collections, 0);
      }
      PprofSites got = read_pprof_sites(pprof.path());
      expect_objects_at_every_site(report, got, collecting, result.err);
      RuntimeComparison comparison = expect_sites_match_the_runtime(report, got, collecting);
      std::cout << fmt::format("{:<50} {:<16} {} sites against the runtime's profile, alloc_objects off by {} at most\n",
                               build.label(), collecting ? "GOGC=5" : "collector off", comparison.sites,
                               comparison.largest_difference);
      expect_types_at_every_site(report, got);
      expect_folded_stacks(report, folded.read(), collecting);
    }
  }
}

TEST(Tracer, SamplingEstimatesEverySiteWithinFivePercent) {
  REQUIRE_BPF_PRIVILEGES();
  // One allocation per 128 bytes on average is recorded (a 48-byte object
  // with probability 0.31); profiles hold estimates scaled as Go scales its
  // own heap profile. Every site with at least 1% of the bytes must come
  // within 5% of the runtime's own exact figure.
  ScratchFile pprof("sampled.pb.gz");
  auto result = run_command({gotrace_binary(), "run", "--sample-rate", "128", "-o", pprof.path(), "--",
                             local_build("allocs", "plain")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("gotrace: sampled one allocation per 128 B on average: "), std::string::npos) << result.err;
  AllocsReport report = parse_allocs_report(result.out);
  PprofSites got = read_pprof_sites(pprof.path());
  EXPECT_NE(got.raw.find("Period: 128\n"), std::string::npos);
  int64_t total = 0;
  for (const auto& [site, runtime] : report.runtime_sites) total += runtime.bytes;
  int checked = 0;
  for (const auto& [site, runtime] : report.runtime_sites) {
    if (runtime.bytes * 100 < total || !report.expected.count(site.first)) continue;
    SCOPED_TRACE(site.first);
    EXPECT_NEAR(double(got.by_site[site].bytes), double(runtime.bytes), 0.05 * runtime.bytes);
    ++checked;
  }
  EXPECT_GE(checked, 5);
}

}  // namespace
}  // namespace gotrace
