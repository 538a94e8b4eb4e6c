// gotrace run: the program's status and output, what lands in the profiles,
// and that Go's own pprof reads them.
//
// These need root (or CAP_SYS_ADMIN). CI runs as
// root; a developer run without them skips with the reason printed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;

TEST(Tracer, HundredThousandDistinctStacksLoseNothing) {
  REQUIRE_BPF_PRIVILEGES();
  // 2^17 distinct call paths, one allocation each: aggregation happens in
  // userspace, so no kernel map can fill up.
  ScratchFile folded("distinct.folded");
  auto result =
      run_gotrace({"run", "--folded", folded.path(), "--", local_build("allocs", "plain"), "distinct", "17"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("; 0 events lost"), std::string::npos) << result.err;
  int64_t stacks = 0, allocations = 0;
  std::istringstream lines(folded.read());
  for (std::string line; std::getline(lines, line);) {
    if (line.find(";main.leafOfPath ") == std::string::npos) continue;
    ++stacks;
    allocations += std::stoll(line.substr(line.rfind(' ') + 1));
  }
  EXPECT_EQ(stacks, 131072);
  EXPECT_EQ(allocations, 131072);
}

TEST(Tracer, FoldedStacksCanEndWithTheType) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchFile folded("types.folded");
  auto result = run_gotrace({"run", "--folded", folded.path(), "--folded-types", "--", local_build("allocs", "plain"),
                             "exit", "0"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(folded.read().find(";main.sitePlain;[main.Record] 100\n"), std::string::npos)
      << folded.read().substr(0, 3000);
}

TEST(Tracer, RunExitsWithTheProgramsStatus) {
  REQUIRE_BPF_PRIVILEGES();
  auto result = run_gotrace({"run", "--", local_build("allocs", "stripped"), "exit", "3"});
  EXPECT_EQ(result.exit_code, 3) << result.err;
  // Without -o or --folded the call sites go to stderr: stdout is the program's.
  EXPECT_NE(result.err.find("main.sitePlain"), std::string::npos) << result.err;
}

TEST(Tracer, RunSendsTheProgramsOutputToAFile) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchFile program_output("program.out");
  // The fixture prints its report on stdout; gotrace's table goes to stderr.
  auto result =
      run_gotrace({"run", "--program-output", program_output.path(), "--", local_build("allocs", "plain")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "");
  EXPECT_NE(program_output.read().find("expect main.sitePlain\t"), std::string::npos);
}

// The web UI of `go tool pprof`, on a loopback port: its top table, or a
// failed command when it never served one.
CommandResult top_table_from_web_ui(const std::string& profile) {
  std::string address = fmt::format("127.0.0.1:{}", 20000 + getpid() % 20000);
  ChildProcess web({"go", "tool", "pprof", "-no_browser", "-http=" + address, profile});
  CommandResult page;
  for (int attempt = 0; attempt < 100; ++attempt) {
    page = run_command({"curl", "-sf", "http://" + address + "/ui/top"});
    if (page.exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return page;
}

TEST(Tracer, ProfileOpensInGoToolPprof) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchFile pprof("top.pb.gz");
  auto run = run_gotrace({"run", "-o", pprof.path(), "--", local_build("allocs", "plain")});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto top = run_command({"go", "tool", "pprof", "-top", "-sample_index=alloc_space", pprof.path()});
  EXPECT_EQ(top.exit_code, 0) << top.err;
  EXPECT_NE(top.out.find("main.siteLarge"), std::string::npos) << top.out;
  auto traces = run_command({"go", "tool", "pprof", "-traces", pprof.path()});
  EXPECT_EQ(traces.exit_code, 0) << traces.err;
  EXPECT_NE(traces.out.find("main.mkPair (inline)"), std::string::npos);
  auto tags = run_command({"go", "tool", "pprof", "-tags", pprof.path()});
  EXPECT_NE(tags.out.find("main.Record"), std::string::npos) << tags.out;
  auto list = run_command({"go", "tool", "pprof", "-list", "main.sitePlain", pprof.path()});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  auto page = top_table_from_web_ui(pprof.path());
  EXPECT_EQ(page.exit_code, 0) << "go tool pprof -http did not serve the profile";
  EXPECT_NE(page.out.find("main.siteLarge"), std::string::npos);
}

}  // namespace
}  // namespace gotrace
