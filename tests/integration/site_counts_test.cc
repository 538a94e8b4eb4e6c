// The tracer's figures site by site against what the allocs fixture did and
// against the runtime's own exact heap profile of the same run, on every
// build of the fixture matrix; and sampled, against the exact figures.
//
// These need root (or CAP_SYS_ADMIN). CI runs as
// root; a developer run without them skips with the reason printed.
#include <gtest/gtest.h>

#include <iostream>

#include "tests/integration/allocs_report.h"
#include "tests/integration/pprof_raw.h"
#include "tests/integration/traced_run.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;

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
