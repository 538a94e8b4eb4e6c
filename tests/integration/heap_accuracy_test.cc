// gotrace --heap reads the runtime's own heap profiler: what it estimates
// against what the allocs fixture did site by site, what it says is in use
// against what the fixture kept, and whether that finds a leak, by `run` and
// by `attach` on a running program, read back with `go tool pprof -top`.
//
// These need root (or CAP_SYS_ADMIN). CI runs as
// root; a developer run without them skips with the reason printed.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tests/integration/allocs_report.h"
#include "tests/integration/pprof_top.h"
#include "tests/integration/traced_run.h"
#include "tests/support/background_gotrace.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;

// "kept <site>\t<objects>\t<bytes>": what a site of the fixture kept.
struct Kept {
  std::string site;
  int64_t objects = 0;
  int64_t bytes = 0;
};

// The last "kept" line of the fixture's output.
Kept parse_kept(const std::string& output) {
  Kept kept;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("kept ")) continue;
    std::istringstream fields(line.substr(5));
    std::getline(fields, kept.site, '\t');
    fields >> kept.objects >> kept.bytes;
  }
  return kept;
}

// The machine's own Go, and the oldest toolchain of the matrix: its
// runtime samples with the older code (`size < c.nextSample`, before
// Go 1.22's rewrite of mallocgc and Go 1.26's size-specialized paths).
std::vector<FixtureBuild> sampler_builds() {
  std::vector<FixtureBuild> builds;
  for (const FixtureBuild& build : fixture_builds("allocs"))
    if (build.variant == "plain" && (builds.empty() || build.path == local_build("allocs", "plain")))
      builds.push_back(build);
  return builds;
}

std::string error_percent(int64_t got, int64_t want) {
  return want == 0 ? "-" : fmt::format("{:+.2f}%", 100.0 * double(got - want) / double(want));
}

// Every site with at least 1% of the bytes is estimated within 10%; the
// site that keeps what it allocates is in use within 10% of what it kept,
// and the others, whose objects were all dropped and collected, not at all.
//
// Why MemProfileRate 4096 and not the default 512 KiB: an estimate of B
// bytes of objects much smaller than the rate R is off by about sqrt(R/B)
// (one standard deviation; the number of samples is about B/R). Within 10%
// at 4.5 deviations takes B >= 2000 R: at the default rate, 1 GiB for the
// smallest site checked, 70 GiB of allocations in all. At 4096 the sampler
// is the same code, run 128 times as often: 512 MiB in all (a few seconds),
// and the smallest site checked, 1.5% of the bytes in 512-byte objects,
// comes within 10% at about 4.5 deviations.
// One traced run of `allocs heapmix RATE MIB` in `mode`: what the fixture
// says it did and kept, and the profile's sites by allocated and in-use bytes.
struct HeapmixRun {
  CommandResult result;
  AllocsReport report;
  Kept kept;
  PprofTop allocated, in_use;
};

HeapmixRun run_heapmix(const FixtureBuild& build, const std::string& mode, const std::string& rate,
                       const std::string& mib, const std::string& pprof) {
  HeapmixRun run;
  run.result = run_command({gotrace_binary(), "run", mode, "-o", pprof, "--", build.path, "heapmix", rate, mib});
  EXPECT_EQ(run.result.exit_code, 0) << run.result.err;
  expect_nothing_lost(run.result.err);
  run.report = parse_allocs_report(run.result.out);
  run.kept = parse_kept(run.result.out);
  EXPECT_EQ(run.report.expected.size(), 9u) << run.result.out;
  run.allocated = read_pprof_top(pprof, "alloc_space");
  run.in_use = read_pprof_top(pprof, "inuse_space");
  return run;
}

TEST(HeapProfiler, EstimatesEverySiteOverOnePercentWithinTenPercent) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchFile pprof("heapmix.pb.gz");
  for (const FixtureBuild& build : sampler_builds()) {
    SCOPED_TRACE(build.label());
    auto started = std::chrono::steady_clock::now();
    auto [result, report, kept, allocated, in_use] = run_heapmix(build, "--heap", "4096", "512", pprof.path());
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (HasFailure()) return;
    int64_t total = 0;
    for (const auto& [site, expected] : report.expected) total += expected.count * expected.size;
    std::string table = fmt::format("{} (gotrace run --heap, MemProfileRate 4096, {:.1f}s)\n", build.label(), seconds);
    table += fmt::format("  {:<20} {:>6} {:>11} {:>11} {:>8} {:>11} {:>8}\n", "site", "share", "bytes", "estimate",
                         "error", "in use", "error");
    int checked = 0;
    for (const auto& [site, expected] : report.expected) {
      SCOPED_TRACE(site);
      int64_t bytes = expected.count * expected.size, estimate = allocated.flat(site), inuse = in_use.flat(site);
      int64_t kept_here = site == kept.site ? kept.bytes : 0;
      table += fmt::format("  {:<20} {:>5.1f}% {:>11} {:>11} {:>8} {:>11} {:>8}\n", site, 100.0 * bytes / total, bytes,
                           estimate, error_percent(estimate, bytes), inuse, error_percent(inuse, kept_here));
      if (bytes * 100 >= total) {
        ++checked;
        EXPECT_NEAR(double(estimate), double(bytes), 0.1 * bytes);
      }
      if (site == kept.site) {
        EXPECT_NEAR(double(inuse), double(kept.bytes), 0.1 * kept.bytes);
      } else {
        EXPECT_LE(inuse, bytes / 1000) << "in use, but all of it was dropped and collected";
      }
    }
    std::cout << table;
    EXPECT_EQ(checked, 8);
    EXPECT_EQ(kept.site, "main.siteMixKept") << result.out;
    EXPECT_GT(kept.bytes, 0);
    if (::testing::Test::HasFailure()) std::cout << allocated.text << in_use.text << result.err;
  }
}

// The fixture's expectations are the allocator's bytes (every size a size
// class), and exact tracing takes its in-use figures from the runtime's
// samples as --heap does: at MemProfileRate 1024, a small run suffices (a
// 4096-byte object is sampled with probability 0.98).
TEST(HeapProfiler, ExactTracingCountsEverySiteAndTakesInUseFromTheSamples) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchFile pprof("heapmix-exact.pb.gz");
  for (const FixtureBuild& build : sampler_builds()) {
    SCOPED_TRACE(build.label());
    auto [result, report, kept, allocated, in_use] = run_heapmix(build, "--exact", "1024", "16", pprof.path());
    if (HasFailure()) return;
    for (const auto& [site, expected] : report.expected) {
      SCOPED_TRACE(site);
      EXPECT_PRED2(nearly_equal, allocated.flat(site), expected.count * expected.size);
      if (site == kept.site) {
        EXPECT_NEAR(double(in_use.flat(site)), double(kept.bytes), 0.1 * kept.bytes);
      } else {
        EXPECT_LE(in_use.flat(site), expected.count * expected.size / 1000);
      }
    }
    if (::testing::Test::HasFailure()) std::cout << allocated.text << in_use.text << result.err;
  }
}

// The leak: siteLeakKept keeps every byte it allocates; siteLeakTemporary
// allocates twice as many bytes, all dropped at once.
constexpr const char* kLeakSite = "main.siteLeakKept";
constexpr const char* kTemporarySite = "main.siteLeakTemporary";

// That the profile puts the leak first by inuse_space, and the temporary
// site first by alloc_space; and that the leak's in-use estimate is within
// `tolerance` of `leaked` (at the default rate, 256 samples of 8 KiB
// objects for 128 MiB: one deviation is about 6%).
void expect_leak_found(const std::string& profile, int64_t leaked, double tolerance) {
  PprofTop allocated = read_pprof_top(profile, "alloc_space");
  PprofTop in_use = read_pprof_top(profile, "inuse_space");
  EXPECT_EQ(in_use.top(), kLeakSite) << in_use.text;
  EXPECT_EQ(allocated.top(), kTemporarySite) << allocated.text;
  EXPECT_NEAR(double(in_use.flat(kLeakSite)), double(leaked), tolerance * leaked) << in_use.text;
  EXPECT_LE(in_use.flat(kTemporarySite), allocated.flat(kTemporarySite) / 100) << in_use.text;
  std::cout << fmt::format("  leaked {} B: in use {} ({}); {} allocated {}, in use {}\n", leaked,
                           in_use.flat(kLeakSite), error_percent(in_use.flat(kLeakSite), leaked), kTemporarySite,
                           allocated.flat(kTemporarySite), in_use.flat(kTemporarySite));
}

TEST(HeapProfiler, RunFindsTheLeakAmongLargerTemporaryAllocations) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchFile pprof("leak.pb.gz");
  for (const char* mode : {"--heap", "--exact"}) {
    SCOPED_TRACE(mode);
    auto result = run_command(
        {gotrace_binary(), "run", mode, "-o", pprof.path(), "--", local_build("allocs", "plain"), "leak", "128"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    expect_nothing_lost(result.err);
    Kept kept = parse_kept(result.out);
    ASSERT_EQ(kept.site, kLeakSite) << result.out;
    ASSERT_EQ(kept.bytes, int64_t(128) << 20) << result.out;
    std::cout << fmt::format("gotrace run {} allocs leak 128:\n", mode);
    expect_leak_found(pprof.path(), kept.bytes, 0.25);
  }
}

// What the running fixture has kept so far, asked on its stdin.
int64_t kept_so_far(ChildProcess& target) {
  target.write_line("kept");
  std::vector<std::string> answer = target.read_until("end");
  return answer.empty() ? -1 : parse_kept(answer.back()).bytes;
}

constexpr int64_t kAttachLeak = int64_t(96) << 20;

// gotrace attach, as a user runs it on a program that has been leaking for
// a while, with --heap and with attach's default (exact while that is
// cheap, else --heap). The trace ends with the program, which drops what it
// does not keep and collects twice before it exits. Ended at a moment of
// the test's choosing instead (-d, Ctrl-C), the temporary site would have
// in use all it dropped since the last collection: gotrace counts an
// object in use until the sweeper frees it, and a collection comes once the
// heap has grown by GOGC% (every 10 s or so here once the program has
// leaked for 40 s), so a short trace of a large heap can put it first.
TEST(HeapProfiler, AttachFindsTheLeakOfARunningProgram) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchFile pprof("attach-leak.pb.gz");
  for (std::string mode : {"--heap", ""}) {
    SCOPED_TRACE(mode.empty() ? "attach's default" : mode);
    ChildProcess target({local_build("allocs", "plain"), "leak"});
    target.read_until("leak");
    std::this_thread::sleep_for(std::chrono::seconds(1));  // leaking before gotrace comes
    std::vector<std::string> args = {"attach", std::to_string(target.pid()), "-o", pprof.path()};
    if (!mode.empty()) args.push_back(mode);
    BackgroundGotrace tracer(args);
    ASSERT_TRUE(tracer.wait_attached()) << tracer.err();
    int64_t kept_at_attach = kept_so_far(target);
    // 96 MiB more, about 190 samples at the default rate, however long that takes here.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (kept_so_far(target) - kept_at_attach < kAttachLeak && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    target.close_stdin();
    std::vector<std::string> lines = target.read_until("\n");  // no line is a newline: to the end
    EXPECT_EQ(target.wait(), 0);
    EXPECT_EQ(tracer.wait(), 0) << tracer.err();
    EXPECT_NE(tracer.err().find("(until it exited)"), std::string::npos) << tracer.err();
    Kept kept = parse_kept(fmt::format("{}\n", fmt::join(lines, "\n")));
    ASSERT_EQ(kept.site, kLeakSite) << fmt::format("{}", fmt::join(lines, "\n"));
    int64_t leaked_while_traced = kept.bytes - kept_at_attach;
    ASSERT_GE(leaked_while_traced, kAttachLeak);
    std::cout << fmt::format("gotrace attach {} on allocs leak:\n", mode.empty() ? "(default)" : mode);
    // One deviation is about 7%.
    expect_leak_found(pprof.path(), leaked_while_traced, 0.35);
  }
}

}  // namespace
}  // namespace gotrace
