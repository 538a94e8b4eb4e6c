// gotrace attach on a running Go program: what it measures while attached,
// and how it ends when the program does.
//
// These need root (or CAP_SYS_ADMIN). CI runs as
// root; a developer run without them skips with the reason printed.
#include <gtest/gtest.h>

#include <algorithm>

#include <fmt/ranges.h>

#include "tests/integration/pprof_raw.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;

// The type allocated most at `function` (the runtime may allocate untyped
// memory for itself inside a site, e.g. when a collection starts).
std::string top_type(PprofSites& sites, const std::string& function) {
  const auto& types = sites.types_by_function[function];
  auto top = std::max_element(types.begin(), types.end(), [](auto& x, auto& y) { return x.second < y.second; });
  return top == types.end() ? std::string() : top->first;
}

TEST(Tracer, AttachKeepsTheRatioBetweenTwoSites) {
  REQUIRE_BPF_PRIVILEGES();
  ChildProcess target({local_build("allocs", "plain"), "steady"});
  target.read_until("steady");
  ScratchFile pprof("attach.pb.gz");
  auto result = run_gotrace({"attach", std::to_string(target.pid()), "--exact", "-d", "2s", "-o", pprof.path()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find(fmt::format("gotrace: attached to pid {} (", target.pid())), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("1 allocation entry point probed, and the runtime's heap profiler; Ctrl-C to stop"),
            std::string::npos)
      << result.err;
  PprofSites got = read_pprof_sites(pprof.path());
  double a = got.by_function["main.siteSteadyA"].objects, b = got.by_function["main.siteSteadyB"].objects;
  ASSERT_GT(b, 10000) << got.raw.substr(0, 2000);
  EXPECT_NEAR(a / b, 3.0, 0.03);
  EXPECT_EQ(top_type(got, "main.siteSteadyA"), "main.Record");
  EXPECT_EQ(top_type(got, "main.siteSteadyB"), "main.Pair");
  target.close_stdin();
  EXPECT_EQ(target.wait(), 0);
}

TEST(Tracer, AttachEndsWithTheTargetAndStillWrites) {
  REQUIRE_BPF_PRIVILEGES();
  ChildProcess target({local_build("allocs", "pie"), "steady"});
  target.read_until("steady");
  ScratchFile folded("exit.folded");
  // gotrace's stderr read as it comes: the target is ended only once the
  // probes are live, however long attaching takes on a busy machine.
  ChildProcess tracer({"/bin/sh", "-c", "exec \"$@\" 2>&1", "sh", gotrace_binary(), "attach",
                       std::to_string(target.pid()), "--folded", folded.path()});
  std::vector<std::string> before = tracer.read_until("gotrace: attached to pid", /*prefix=*/true);
  target.close_stdin();
  std::vector<std::string> after = tracer.read_until("\n");  // no line is a newline: to the end
  std::string err = fmt::format("{}\n", fmt::join(before, "\n")) + fmt::format("{}\n", fmt::join(after, "\n"));
  EXPECT_EQ(tracer.wait(), 0) << err;
  ASSERT_FALSE(after.empty()) << "gotrace never said it attached: " << err;
  EXPECT_NE(err.find("(until it exited)"), std::string::npos) << err;
  EXPECT_NE(folded.read().find(";main.siteSteadyA "), std::string::npos);
  EXPECT_EQ(target.wait(), 0);
}

}  // namespace
}  // namespace gotrace
