// The kind of each allocation (the `alloc` label: the runtime function the
// site called) on the kinds fixture, whose every allocating line says in a
// comment what it calls, on every build of the fixture matrix, exact and
// from the runtime's own heap profile. `go tool objdump` of each build is
// the oracle that the comment is true of that release's code.
//
// These need root (or CAP_SYS_ADMIN). CI runs as root; a developer run
// without them skips with the reason printed.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/integration/pprof_raw.h"
#include "tests/integration/traced_run.h"
#include "tests/support/child_process.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/kinds_fixture.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;

// What a build's code calls at each line of the fixture's main.go: the
// runtime functions of `go tool objdump`'s CALL instructions, and the
// source file's path from its TEXT lines.
struct ObjdumpCalls {
  std::string source;
  std::map<int64_t, std::set<std::string>> runtime_calls;  // by line
};

ObjdumpCalls objdump_calls(const std::string& binary) {
  auto result = run_command({"go", "tool", "objdump", "-s", "^main\\.", binary});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  ObjdumpCalls calls;
  std::regex text(R"(^TEXT main\.\S+\(SB\) (\S+/main\.go)$)");
  std::regex call(R"(^\s+main\.go:(\d+)\s+\S+\s+\S+\s+CALL runtime\.(\w+)\(SB\))");
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, text)) calls.source = m[1];
    if (std::regex_search(line, m, call)) calls.runtime_calls[std::stoll(m[1])].insert(m[2]);
  }
  return calls;
}



// The alloc labels of the samples whose leaf is a line of the fixture's
// main package, with their allocations, by line.
std::map<int64_t, std::map<std::string, int64_t>> kinds_by_line(const std::string& profile) {
  std::map<int64_t, std::map<std::string, int64_t>> by_line;
  for (const LabelledSample& sample : read_pprof_labels(profile)) {
    if (sample.stack.empty() || !sample.stack.front().first.starts_with("main.site")) continue;
    auto label = sample.labels.find("alloc");
    by_line[sample.stack.front().second][label == sample.labels.end() ? "(none)" : label->second] +=
        sample.totals.objects;
  }
  return by_line;
}

// The growslice count the fixture printed: "grown N".
int64_t grown(const std::string& out) {
  std::smatch m;
  std::regex line(R"((^|\n)grown (\d+)\n)");
  EXPECT_TRUE(std::regex_search(out, m, line)) << out;
  return m.empty() ? -1 : std::stoll(m[2]);
}


TEST(AllocationKinds, EveryLineHasTheKindItsCodeCallsOnEveryBuild) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchFile profile("kinds.pb.gz");
  for (const FixtureBuild& build : fixture_builds("kinds")) {
    ObjdumpCalls calls = objdump_calls(objdump_path(build));
    ASSERT_FALSE(calls.source.empty()) << "no TEXT line of main.go in the objdump of " << build.label();
    std::map<int64_t, std::string> declared = declared_kinds(calls.source);
    ASSERT_GE(declared.size(), 15u) << calls.source;
    // Exact and from the runtime's heap profile, which samples every
    // allocation here (MemProfileRate = 1); the fixed mode for the one line
    // only it runs.
    for (std::string mode : {"--exact", "--heap"}) {
      for (bool fixed : {false, true}) {
        if (fixed && build.variant != "plain") continue;  // one line's code: the plain build's is enough
        SCOPED_TRACE(build.label() + " " + mode + (fixed ? " (fixed)" : ""));
        std::vector<std::string> argv{gotrace_binary(), "run", mode, "-o", profile.path(), "--", build.path};
        if (fixed) argv.push_back("fixed");
        auto result = run_command(argv);
        ASSERT_EQ(result.exit_code, 0) << result.err;
        expect_nothing_lost(result.err);
        auto got = kinds_by_line(profile.path());
        size_t lines_seen = 0;
        for (const auto& [line, kind] : declared) {
          SCOPED_TRACE(fmt::format("main.go:{} ({})", line, kind));
          const std::set<std::string>& callees = calls.runtime_calls[line];
          EXPECT_TRUE(std::any_of(callees.begin(), callees.end(), [&](const std::string& c) { return makes_kind(c, kind); }))
              << "objdump shows no call that makes " << kind << " here: the fixture's comment is wrong";
          auto at_line = got.find(line);
          if (at_line == got.end()) continue;  // a line of the other mode
          ++lines_seen;
          EXPECT_EQ(at_line->second, (std::map<std::string, int64_t>{{kind, at_line->second.begin()->second}}));
        }
        EXPECT_EQ(lines_seen, declared.size() - 1) << "every line but one (siteAppend's, per mode) runs";
        if (mode == "--exact") {
          auto append_line = std::find_if(declared.begin(), declared.end(),
                                          [](const auto& entry) { return entry.second == "growslice"; });
          int64_t growths = got[append_line->first]["growslice"];
          EXPECT_EQ(growths, grown(result.out));
          EXPECT_EQ(growths == 0, fixed);
        }
      }
    }
    std::set<std::string> kinds;
    for (const auto& [line, kind] : declared) kinds.insert(kind);
    std::cout << fmt::format("{:<40} {} lines of {} kinds: each the kind objdump shows, exact and --heap\n",
                             build.label(), declared.size(), kinds.size());
  }
}

}  // namespace
}  // namespace gotrace
