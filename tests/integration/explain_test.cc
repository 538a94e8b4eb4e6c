// gotrace explain on profiles of the kinds fixture, traced in the test:
// each site's kind, the call instruction at its PC as go tool objdump shows
// it, the compiler's escape analysis of its line as the compiler itself
// prints it (-gcflags=-m=2), mismatched source detected, and --diff of a run
// with siteAppend fixed.
//
// These need root (or CAP_SYS_ADMIN) to trace. CI runs as root; a developer
// run without them skips with the reason printed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/support/child_process.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/kinds_fixture.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;
using nlohmann::json;

// The kinds fixture's main.go: where the build's pclntab says it is.
std::string source_of(const json& explanation) {
  for (const json& site : explanation["sites"])
    if (site["function"].get<std::string>().starts_with("main.site")) return site["file"];
  return "";
}


// go tool objdump's instructions of main.go, by address: "CALL runtime.growslice(SB)".
std::map<uint64_t, std::pair<int64_t, std::string>> objdump(const std::string& binary) {
  auto result = run_command({"go", "tool", "objdump", "-s", "^main\\.site", binary});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  std::map<uint64_t, std::pair<int64_t, std::string>> out;
  std::regex line(R"(^\s+main\.go:(\d+)\s+0x([0-9a-f]+)\s+[0-9a-f]+\s+(.*?)\s*$)");
  std::istringstream lines(result.out);
  for (std::string text; std::getline(lines, text);)
    if (std::smatch m; std::regex_match(text, m, line))
      out[std::stoull(m[2], nullptr, 16)] = {std::stoll(m[1]), m[3]};
  return out;
}

json explain(const std::vector<std::string>& args) {
  std::vector<std::string> argv{gotrace_binary(), "explain", "--json"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = run_command(argv);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  return json::parse(result.out, nullptr, /*allow_exceptions=*/false);
}

// A profile of the fixture's run, exact.
void trace(const std::string& binary, const std::string& profile, bool fixed, std::string* out = nullptr) {
  std::vector<std::string> argv{gotrace_binary(), "run", "--exact", "-o", profile, "--", binary};
  if (fixed) argv.push_back("fixed");
  auto result = run_command(argv);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  if (out) *out = result.out;
}

TEST(Explain, EachSiteHasItsKindAndTheCallInstructionAtItsPc) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchFile profile("kinds.pb.gz");
  for (const FixtureBuild& build : fixture_builds("kinds")) {
    if (build.variant != "plain") continue;  // objdump reads plain builds; the code is the same in the others
    SCOPED_TRACE(build.label());
    trace(build.path, profile.path(), false);
    json e = explain({profile.path(), "--top", "100"});
    ASSERT_TRUE(e.is_object());
    EXPECT_EQ(e["sample_index"], "alloc_space");
    EXPECT_EQ(e["go_version"], build.go_version);
    EXPECT_TRUE(e["notes"].empty()) << e["notes"];
    std::map<int64_t, std::string> declared = declared_kinds(source_of(e));
    ASSERT_GE(declared.size(), 15u);
    auto code = objdump(build.path);
    size_t checked = 0;
    for (const json& site : e["sites"]) {
      auto kind = declared.find(site["line"].get<int64_t>());
      if (!site["function"].get<std::string>().starts_with("main.site") || kind == declared.end()) continue;
      SCOPED_TRACE(fmt::format("{} line {}", site["function"].get<std::string>(), kind->first));
      ++checked;
      ASSERT_FALSE(site["kinds"].empty());
      EXPECT_EQ(site["kinds"][0]["kind"], kind->second);
      EXPECT_EQ(site["escape"], nullptr);  // not asked
      ASSERT_FALSE(site["calls"].empty());
      for (const json& call : site["calls"]) {
        ASSERT_FALSE(call["instructions"].empty()) << call;
        const json& last = call["instructions"].back();
        EXPECT_TRUE(last["call"].get<bool>());
        uint64_t address = std::stoull(last["address"].get<std::string>(), nullptr, 16);
        auto oracle = code.find(address);
        ASSERT_NE(oracle, code.end()) << "objdump has no instruction at " << last["address"];
        EXPECT_EQ(oracle->second.first, kind->first);
        EXPECT_EQ(last["line"], kind->first);
        EXPECT_EQ(last["text"], oracle->second.second);
        EXPECT_EQ("CALL " + call["callee"].get<std::string>() + "(SB)", oracle->second.second);
        // The instructions before it, address by address.
        for (const json& insn : call["instructions"]) {
          auto at = code.find(std::stoull(insn["address"].get<std::string>(), nullptr, 16));
          ASSERT_NE(at, code.end()) << insn;
          EXPECT_EQ(insn["line"], at->second.first) << insn;
        }
      }
    }
    EXPECT_EQ(checked, declared.size() - 1);  // every line but siteAppend's fixed one
  }
}

// What `go build -gcflags=-m=2` of the fixture says goes to the heap, by
// line of main.go: "&Small{...} escapes to heap", "moved to heap: v".
std::map<int64_t, std::set<std::string>> compiler_escapes(const std::string& fixture_dir, const std::string& out) {
  auto result = run_command({"env", "GOWORK=off", "GOFLAGS=-buildvcs=false", "GOTOOLCHAIN=local", "CGO_ENABLED=0",
                             "sh", "-c", "cd \"$0\" && go build -a -gcflags=-m=2 -o \"$1\" . 2>&1", fixture_dir,
                             out});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  std::map<int64_t, std::set<std::string>> escapes;
  std::regex line(R"(^\./main\.go:(\d+):\d+: (.* escapes to heap|moved to heap: \w+)(:)?$)");
  std::istringstream lines(result.out);
  for (std::string text; std::getline(lines, text);)
    if (std::smatch m; std::regex_match(text, m, line)) escapes[std::stoll(m[1])].insert(m[2]);
  return escapes;
}

TEST(Explain, WithTheSourceEachLineHasTheCompilersVerdictAndMovedLinesAreNoticed) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchFile profile("kinds.pb.gz"), rebuilt("kinds-m2");
  std::string binary = local_build("kinds", "plain");
  trace(binary, profile.path(), false);
  json without = explain({profile.path(), "--top", "100"});
  std::string source = source_of(without);
  ASSERT_FALSE(source.empty());
  std::string fixture_dir = std::filesystem::path(source).parent_path();
  std::map<int64_t, std::string> declared = declared_kinds(source);
  auto oracle = compiler_escapes(fixture_dir, rebuilt.path());
  ASSERT_FALSE(oracle.empty());

  json e = explain({profile.path(), "--top", "100", "--source", fixture_dir});
  size_t found = 0;
  for (const json& site : e["sites"]) {
    int64_t line = site["line"];
    if (!site["function"].get<std::string>().starts_with("main.site") || !declared.contains(line)) continue;
    SCOPED_TRACE(fmt::format("main.go:{}", line));
    ASSERT_TRUE(site["escape"].is_object()) << site;
    const json& escape = site["escape"];
    EXPECT_EQ(escape["source_file"], source);
    std::set<std::string> said;
    for (const json& d : escape["diagnostics"]) said.insert(d["message"]);
    if (oracle.contains(line)) {
      ++found;
      EXPECT_EQ(escape["status"], "found");
      // The compiler's log names what escapes as its text output does,
      // in full where the text abbreviates ("append(s, i)", "append"), and
      // a variable moved to the heap as one that escapes.
      for (const std::string& message : oracle[line]) {
        std::string subject = message.starts_with("moved to heap: ") ? message.substr(15)
                                                                      : message.substr(0, message.find(" escapes"));
        EXPECT_TRUE(std::any_of(said.begin(), said.end(), [&](const std::string& m) { return m.starts_with(subject); }))
            << message << "\n" << escape;
      }
      for (const json& d : escape["diagnostics"]) EXPECT_FALSE(d["flow"].empty()) << d;
    } else {
      EXPECT_EQ(escape["status"], "nothing") << escape;
    }
  }
  EXPECT_GE(found, 10u) << "the compiler says most of the fixture's sites escape";

  // The same source with a line added at the top: every function below it moved.
  ScratchDirectory moved_dir("kinds-moved");
  for (const auto& entry : std::filesystem::directory_iterator(fixture_dir))
    std::filesystem::copy(entry.path(), std::filesystem::path(moved_dir.path()) / entry.path().filename());
  std::string text = read_file(source);
  std::ofstream(std::filesystem::path(moved_dir.path()) / "main.go") << "// A line more.\n" << text;
  json moved = explain({profile.path(), "--top", "100", "--source", moved_dir.path()});
  size_t mismatched = 0;
  for (const json& site : moved["sites"]) {
    if (!site["function"].get<std::string>().starts_with("main.site")) continue;
    EXPECT_EQ(site["escape"]["status"], "mismatch") << site["escape"];
    mismatched += site["escape"]["status"] == "mismatch";
  }
  EXPECT_GE(mismatched, declared.size() - 1);
}

TEST(Explain, DiffShowsTheFixedSiteGoneToNothing) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchFile before("before.pb.gz"), after("after.pb.gz");
  std::string binary = local_build("kinds", "plain"), printed;
  trace(binary, before.path(), false, &printed);
  trace(binary, after.path(), true);
  std::smatch grown;
  ASSERT_TRUE(std::regex_search(printed, grown, std::regex(R"(grown (\d+))"))) << printed;
  json diff = explain({"--diff", before.path(), after.path()});
  ASSERT_TRUE(diff.is_object());
  const json* append = nullptr;
  for (const json& site : diff["sites"])
    if (site["function"] == "main.siteAppend" && site["kind"] == "growslice") append = &site;
  ASSERT_NE(append, nullptr) << diff.dump(2);
  EXPECT_EQ((*append)["before"]["objects"], std::stoll(grown[1]));
  EXPECT_EQ((*append)["after"]["objects"], 0);
  EXPECT_EQ((*append)["status"], "gone");
  EXPECT_LT((*append)["change"]["bytes"].get<int64_t>(), -100000);
  // The preallocation is the one new site, and the largest change is the fix.
  EXPECT_EQ(diff["sites"][0]["function"], "main.siteAppend");
  auto text = run_command({gotrace_binary(), "explain", "--diff", before.path(), after.path()});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("main.siteAppend main.go:"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("growslice  (gone)"), std::string::npos) << text.out;
}

}  // namespace
}  // namespace gotrace
