// The in-use figures at the peak: the allocs fixture's peak mode holds 64 MiB
// at one site through a few collections, then drops it and runs on at a low
// heap. The profile's peak_inuse_space must show the site as it was then,
// what it held, while its inuse_space shows what it holds at the end:
// nothing. Read back with `go tool pprof -sample_index=... -top`.
//
// These need root (or CAP_SYS_ADMIN). CI runs as
// root; a developer run without them skips with the reason printed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "tests/integration/allocs_report.h"
#include "tests/integration/pprof_raw.h"
#include "tests/integration/pprof_top.h"
#include "tests/integration/traced_run.h"
#include "tests/support/child_process.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;

// "<when> <site>\t<objects>\t<bytes>": what the fixture's site held at
// `when`, "peak" or "end".
struct Held {
  std::string site;
  ObjectsAndBytes figures;
};

Held held_at(const std::string& output, const std::string& when) {
  Held held;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(when + " ")) continue;
    std::istringstream fields(line.substr(when.size() + 1));
    std::getline(fields, held.site, '\t');
    fields >> held.figures.objects >> held.figures.bytes;
  }
  return held;
}

std::string error_percent(int64_t got, int64_t want) {
  return want == 0 ? "-" : fmt::format("{:+.2f}%", 100.0 * double(got - want) / double(want));
}

TEST(HeapPeak, ASiteIsInUseAtThePeakAsItHeldThenThoughItHoldsNothingAtTheEnd) {
  REQUIRE_BPF_PRIVILEGES();
  // MemProfileRate 4096, as heap_accuracy_test: 64 MiB in 1 KiB objects is
  // about 14500 samples, an estimate within 1% at one standard deviation
  // (at the default 512 KiB, 128 samples: 9%).
  ScratchFile pprof("peak.pb.gz");
  auto result = run_command({gotrace_binary(), "run", "--heap", "-o", pprof.path(), "--",
                             local_build("allocs", "plain"), "peak", "4096", "64"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  expect_nothing_lost(result.err);
  Held peak = held_at(result.out, "peak"), end = held_at(result.out, "end");
  ASSERT_EQ(peak.site, "main.sitePeakHeld") << result.out;
  ASSERT_GT(peak.figures.bytes, 0) << result.out;
  EXPECT_NE(result.err.find("; in use at the peak ("), std::string::npos) << result.err;

  // Go's four sample types first and in their order, then the peak's two.
  PprofSites sites = read_pprof_sites(pprof.path());
  EXPECT_EQ(sites.sample_types.substr(sites.sample_types.find_first_not_of(' ')),
            "alloc_objects/count alloc_space/bytes[dflt] inuse_objects/count inuse_space/bytes "
            "peak_inuse_objects/count peak_inuse_space/bytes")
      << sites.raw.substr(0, 400);

  PprofTop peak_space = read_pprof_top(pprof.path(), "peak_inuse_space");
  PprofTop peak_objects = read_pprof_top(pprof.path(), "peak_inuse_objects");
  PprofTop end_space = read_pprof_top(pprof.path(), "inuse_space");
  EXPECT_EQ(peak_space.top(), peak.site) << peak_space.text;
  int64_t at_peak = peak_space.flat(peak.site), at_end = end_space.flat(peak.site);
  EXPECT_NEAR(double(at_peak), double(peak.figures.bytes), 0.05 * double(peak.figures.bytes)) << peak_space.text;
  EXPECT_NEAR(double(peak_objects.flat(peak.site)), double(peak.figures.objects), 0.05 * double(peak.figures.objects))
      << peak_objects.text;
  // Every sampled object of the site was freed, and gotrace saw each free.
  EXPECT_NEAR(double(at_end), double(end.figures.bytes), 0.01 * double(peak.figures.bytes)) << end_space.text;
  std::cout << fmt::format("{} held {} bytes at the peak: peak_inuse_space {} ({}), peak_inuse_objects {} of {}; "
                           "held {} bytes at the end: inuse_space {}\n",
                           peak.site, peak.figures.bytes, at_peak, error_percent(at_peak, peak.figures.bytes),
                           peak_objects.flat(peak.site), peak.figures.objects, end.figures.bytes, at_end);
}

}  // namespace
}  // namespace gotrace
