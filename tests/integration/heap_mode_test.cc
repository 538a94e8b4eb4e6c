// --heap, which records only what the runtime's own heap profiler samples,
// against exact tracing and the runtime's own profile: the allocs fixture
// sets MemProfileRate to 1, so the runtime samples every allocation and
// --heap must give what exact tracing gives, stack for stack and type for
// type; the in-use figures of what a program keeps and drops; and the
// refusal of a program whose heap profiling is off.
//
// These need root (or CAP_SYS_ADMIN). CI runs as
// root; a developer run without them skips with the reason printed.
#include <gtest/gtest.h>

#include <iostream>
#include <set>

#include "tests/integration/allocs_report.h"
#include "tests/integration/pprof_raw.h"
#include "tests/integration/traced_run.h"
#include "tests/support/child_process.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/leftovers.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;

using TypedStacks = std::map<TypedStack, ObjectsAndBytes>;

// The site function of a stack, type arguments collapsed: its leaf.
std::string site_of(const TypedStack& key) {
  return key.first.empty() ? "" : collapse_type_arguments(key.first.front().first);
}

struct StackComparison {
  int equal_stacks = 0;
  std::vector<std::string> differences;
};

// At every stack whose leaf is a site of the workload (report.expected),
// the same types with the same figures. The tiny allocator's sites only
// by type: the runtime counts them one object per 16-byte block.
StackComparison compare_workload_stacks(const AllocsReport& report, const TypedStacks& heap, const TypedStacks& exact) {
  std::set<TypedStack> keys;
  for (const TypedStacks* stacks : {&heap, &exact})
    for (const auto& [key, totals] : *stacks)
      if (report.expected.count(site_of(key))) keys.insert(key);
  StackComparison comparison;
  for (const TypedStack& key : keys) {
    auto in_heap = heap.find(key), in_exact = exact.find(key);
    ObjectsAndBytes h = in_heap != heap.end() ? in_heap->second : ObjectsAndBytes{};
    ObjectsAndBytes e = in_exact != exact.end() ? in_exact->second : ObjectsAndBytes{};
    bool tiny = report.expected.at(site_of(key)).tiny;
    bool same = tiny ? (h.objects != 0) == (e.objects != 0) : h == e;
    if (same && key.second != "unknown type") {
      ++comparison.equal_stacks;
      continue;
    }
    comparison.differences.push_back(fmt::format("type [{}]: --heap {} objects, {} bytes; --exact {} objects, {} bytes: {}",
                                                 key.second, h.objects, h.bytes, e.objects, e.bytes,
                                                 describe_stack(key.first)));
  }
  return comparison;
}

// Stacks and objects that --heap could not give a type, where --exact named one.
std::pair<int, int64_t> unknown_types(const TypedStacks& heap) {
  std::pair<int, int64_t> unknown{0, 0};
  for (const auto& [key, totals] : heap)
    if (key.second == "unknown type") {
      ++unknown.first;
      unknown.second += totals.objects;
    }
  return unknown;
}

TEST(HeapMode, EqualsExactTracingAtRateOneOnEveryToolchain) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchFile heap_profile("heap.pb.gz"), exact_profile("exact.pb.gz");
  // Every toolchain's plain build and its allocator experiments; stripped
  // and PIE once, by the machine's own Go (site_counts_test runs them all).
  std::string local_stripped = local_build("allocs", "stripped"), local_pie = local_build("allocs", "pie");
  for (const FixtureBuild& build : fixture_builds("allocs")) {
    if ((build.variant == "stripped" && build.path != local_stripped) || (build.variant == "pie" && build.path != local_pie))
      continue;
    SCOPED_TRACE(build.label());
    auto heap = run_command({gotrace_binary(), "run", "--heap", "-o", heap_profile.path(), "--", build.path});
    ASSERT_EQ(heap.exit_code, 0) << heap.err;
    EXPECT_NE(heap.err.find("gotrace: --heap: "), std::string::npos) << heap.err;
    EXPECT_NE(heap.err.find(" samples of the runtime's own heap profiler ("), std::string::npos) << heap.err;
    expect_nothing_lost(heap.err);
    auto exact = run_command({gotrace_binary(), "run", "--exact", "-o", exact_profile.path(), "--", build.path});
    ASSERT_EQ(exact.exit_code, 0) << exact.err;
    expect_nothing_lost(exact.err);

    // Site by site, the runtime's own profile of the same run, tiny
    // allocator's sites included: both count what the runtime sampled.
    AllocsReport report = parse_allocs_report(heap.out);
    ASSERT_GE(report.expected.size(), 10u) << heap.out;
    PprofSites sites = read_pprof_sites(heap_profile.path());
    std::set<std::string> compared = expect_sampled_sites_equal_the_runtime(report, sites);

    // Stack by stack and type by type, exact tracing of another run.
    TypedStacks heap_stacks = read_pprof_typed_stacks(heap_profile.path());
    StackComparison comparison =
        compare_workload_stacks(report, heap_stacks, read_pprof_typed_stacks(exact_profile.path()));
    EXPECT_GE(comparison.equal_stacks, int(report.expected.size()));
    if (!comparison.differences.empty()) {
      std::string text;
      for (const std::string& line : comparison.differences) text += "  " + line + "\n";
      ADD_FAILURE() << comparison.differences.size() << " stacks of the workload differ:\n" << text;
    }
    auto [unknown_stacks, unknown_objects] = unknown_types(heap_stacks);
    std::cout << fmt::format("{:<50} {} workload stacks equal; {} sites equal to the runtime's; elsewhere {} "
                             "stacks ({} objects) of unknown type\n",
                             build.label(), comparison.equal_stacks, compared.size(), unknown_stacks,
                             unknown_objects);
  }
}

// pprof's text report for one sample type, and whether `first` comes before `second` in it.
bool listed_before(const std::string& profile, const std::string& sample_index, const std::string& first,
                   const std::string& second) {
  auto top = run_command({"go", "tool", "pprof", "-sample_index=" + sample_index, "-top", profile});
  EXPECT_EQ(top.exit_code, 0) << top.err;
  size_t a = top.out.find(first), b = top.out.find(second);
  EXPECT_NE(a, std::string::npos) << sample_index << ":\n" << top.out;
  return a != std::string::npos && (b == std::string::npos || a < b);
}

TEST(HeapMode, InUseIsWhatTheProgramKeeps) {
  REQUIRE_BPF_PRIVILEGES();
  // allocs keep: 3000 records kept to the end at main.siteKept, 20000 pairs
  // dropped at main.siteDropped and collected before the end. At
  // MemProfileRate 1 the in-use figures are exact, in both modes.
  ScratchFile pprof("keep.pb.gz");
  for (const char* mode : {"--heap", "--exact"}) {
    SCOPED_TRACE(mode);
    auto result = run_command({gotrace_binary(), "run", mode, "-o", pprof.path(), "--", local_build("allocs", "plain"),
                               "keep"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.err.find("gotrace: in use at the end: "), std::string::npos) << result.err;
    AllocsReport report = parse_allocs_report(result.out);
    ASSERT_EQ(report.expected.size(), 2u) << result.out;
    PprofSites sites = read_pprof_sites(pprof.path());
    expect_in_use_is_what_keep_kept(report, sites);
    // Go's own tool reads both views: the kept site leads in use, the
    // dropped one (more bytes allocated) leads allocated space.
    EXPECT_TRUE(listed_before(pprof.path(), "inuse_space", "main.siteKept", "main.siteDropped"));
    EXPECT_TRUE(listed_before(pprof.path(), "alloc_space", "main.siteDropped", "main.siteKept"));
  }
}

// A program that turns its heap profiling off while traced (the Go compiler
// does, at its start) is said to have: what --heap saw of it is its first
// moments only.
TEST(HeapMode, AProgramThatTurnsItsHeapProfilingOffIsSaidToHave) {
  REQUIRE_BPF_PRIVILEGES();
  auto result = run_gotrace({"run", "--heap", "--", local_build("allocs", "plain"), "profiling-off"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find(") turned its heap profiling off while traced (runtime.MemProfileRate = 0), and the "
                            "runtime sampled nothing after: --heap saw its first moments only; --exact sees every "
                            "allocation\n"),
            std::string::npos)
      << result.err;
  // And one that keeps it on is not.
  auto kept = run_gotrace({"run", "--heap", "--", local_build("allocs", "plain"), "keep"});
  EXPECT_EQ(kept.exit_code, 0) << kept.err;
  EXPECT_EQ(kept.err.find("turned its heap profiling off"), std::string::npos) << kept.err;
}

TEST(HeapMode, RefusedBeforeAttachingWhereHeapProfilingIsOff) {
  REQUIRE_BPF_PRIVILEGES();
  // symtest links no heap profiler: its runtime sets MemProfileRate to 0.
  for (const char* variant : {"stripped", "pie"}) {
    SCOPED_TRACE(variant);
    LeftoverCheck check;
    ChildProcess target({local_build("symtest", variant)});
    target.read_until("ready");
    auto result = run_gotrace({"attach", "--heap", std::to_string(target.pid())});
    expect_one_line_error(
        result, 1,
        fmt::format("--heap: pid {}: the program's heap profiling is off (runtime.MemProfileRate is 0: it links "
                    "neither runtime/pprof nor net/http/pprof, or set the rate to 0), so the runtime samples "
                    "nothing; --exact or --sample trace it at a cost to the program, or build it with `import _ "
                    "\"net/http/pprof\"` (or runtime/pprof) to have it sample its allocations",
                    target.pid()));
    EXPECT_TRUE(check.nothing_left({target.pid()}));
    target.close_stdin();
    EXPECT_EQ(target.wait(), 0);
  }
}

TEST(HeapMode, RunOfAProgramWithHeapProfilingOffIsRefusedBeforeItStarts) {
  REQUIRE_BPF_PRIVILEGES();
  // `run` cannot read the rate before the program starts, and the runtime
  // samples a few of its start-up allocations before it turns profiling
  // off: the binary itself says so (the linker left runtime.MemProfile, or
  // from Go 1.23 runtime.memProfileInternal, out).
  for (const FixtureBuild& build : fixture_builds("symtest")) {
    if (build.variant != "plain" && build.variant != "stripped") continue;
    SCOPED_TRACE(build.label());
    expect_one_line_error(run_gotrace({"run", "--heap", "--", build.path}), 1,
                          fmt::format("--heap: '{}' links neither runtime/pprof nor net/http/pprof: its heap "
                                      "profiling is off (the linker set runtime.disableMemoryProfiling), so the "
                                      "runtime samples nothing; --exact or --sample trace it at a cost to the "
                                      "program, or build it with `import _ \"net/http/pprof\"` (or runtime/pprof) to "
                                      "have it sample its allocations",
                                      build.path));
  }
}

}  // namespace
}  // namespace gotrace
