// The parser of the Go compiler's optimization log (userspace/explain/
// compiler_log.h), on lines the compilers of Go 1.19 and Go 1.26 wrote for
// the allocs fixture (-gcflags=-json=0,file://DIR), and on damaged ones.
#include <gtest/gtest.h>

#include "userspace/explain/compiler_log.h"

namespace gotrace {
namespace {

// Go 1.26: an allocation in mkPair (line 60) inlined into siteInlined (line
// 66), explained in five steps, and the unexplained "escape" that follows
// each explained one.
const std::string kGo126Log = R"log({"version":0,"package":"main","goos":"linux","goarch":"amd64","gc_version":"go1.26.8","file":"/tmp/esc/allocs/sites.go"}
{"range":{"start":{"line":66,"character":20},"end":{"line":66,"character":20}},"severity":3,"code":"escape","source":"go compiler","message":"\u0026Pair{} escapes to heap","relatedInformation":[{"location":{"uri":"file:///tmp/esc/allocs/sites.go","range":{"start":{"line":60,"character":30},"end":{"line":60,"character":30}}},"message":"inlineLoc"},{"location":{"uri":"file:///tmp/esc/allocs/sites.go","range":{"start":{"line":66,"character":20},"end":{"line":66,"character":20}}},"message":"escflow:    flow: ~r0 ← \u0026{storage for \u0026Pair{}}:"},{"location":{"uri":"file:///tmp/esc/allocs/sites.go","range":{"start":{"line":60,"character":30},"end":{"line":60,"character":30}}},"message":"inlineLoc"},{"location":{"uri":"file:///tmp/esc/allocs/sites.go","range":{"start":{"line":66,"character":20},"end":{"line":66,"character":20}}},"message":"escflow:      from \u0026Pair{} (spill)"},{"location":{"uri":"file:///tmp/esc/allocs/sites.go","range":{"start":{"line":60,"character":30},"end":{"line":60,"character":30}}},"message":"inlineLoc"},{"location":{"uri":"file:///tmp/esc/allocs/sites.go","range":{"start":{"line":66,"character":20},"end":{"line":66,"character":20}}},"message":"escflow:      from ~r0 = \u0026Pair{} (assign-pair)"},{"location":{"uri":"file:///tmp/esc/allocs/sites.go","range":{"start":{"line":66,"character":12},"end":{"line":66,"character":12}}},"message":"escflow:    flow: {heap} ← ~r0:"},{"location":{"uri":"file:///tmp/esc/allocs/sites.go","range":{"start":{"line":66,"character":12},"end":{"line":66,"character":12}}},"message":"escflow:      from sinkPair = ~r0 (assign)"}]}
{"range":{"start":{"line":53,"character":16},"end":{"line":53,"character":16}},"severity":3,"code":"escape","source":"go compiler","message":""}
)log";

// Go 1.19: a leaking parameter whose explanation goes through a position the
// compiler does not know ("file:", line 0).
const std::string kGo119Log = R"log({"version":0,"package":"main","goos":"linux","goarch":"amd64","gc_version":"go1.19.8","file":"/tmp/esc/allocs/leak.go"}
{"range":{"start":{"line":106,"character":19},"end":{"line":106,"character":19}},"severity":3,"code":"leak","source":"go compiler","message":"parameter kept leaks to {heap} with derefs=1","relatedInformation":[{"location":{"uri":"file:///tmp/esc/allocs/leak.go","range":{"start":{"line":117,"character":20},"end":{"line":117,"character":20}}},"message":"escflow:    flow: {temp} = kept:"},{"location":{"uri":"file:///tmp/esc/allocs/leak.go","range":{"start":{"line":117,"character":20},"end":{"line":117,"character":20}}},"message":"escflow:      from leakRounds(kept, 25) (call parameter)"},{"location":{"uri":"file:","range":{"start":{"line":0,"character":0},"end":{"line":0,"character":0}}},"message":"escflow:    flow: {heap} = *{temp}:"}]}
)log";

TEST(CompilerLog, ReadsHeaderInliningAndExplanation) {
  auto log = parse_compiler_log(kGo126Log, "sites.json");
  ASSERT_TRUE(log) << log.error().message;
  EXPECT_EQ(log->package, "main");
  EXPECT_EQ(log->gc_version, "go1.26.8");
  EXPECT_EQ(log->file, "/tmp/esc/allocs/sites.go");
  ASSERT_EQ(log->diagnostics.size(), 2u);
  const CompilerDiagnostic& escape = log->diagnostics[0];
  EXPECT_EQ(escape.position, (SourcePosition{"/tmp/esc/allocs/sites.go", 66, 20}));
  EXPECT_EQ(escape.code, "escape");
  EXPECT_EQ(escape.message, "&Pair{} escapes to heap");
  // The first inlineLoc is the diagnostic's; those after each step are the step's.
  ASSERT_EQ(escape.inlined_at.size(), 1u);
  EXPECT_EQ(escape.inlined_at[0], (SourcePosition{"/tmp/esc/allocs/sites.go", 60, 30}));
  ASSERT_EQ(escape.flow.size(), 5u);
  EXPECT_EQ(escape.flow[0].text, "flow: ~r0 ← &{storage for &Pair{}}:");
  EXPECT_EQ(escape.flow[2].text, "from ~r0 = &Pair{} (assign-pair)");
  EXPECT_EQ(escape.flow[4].text, "from sinkPair = ~r0 (assign)");
  EXPECT_EQ(escape.flow[4].position, (SourcePosition{"/tmp/esc/allocs/sites.go", 66, 12}));
  const CompilerDiagnostic& verdict = log->diagnostics[1];
  EXPECT_EQ(verdict.position, (SourcePosition{"/tmp/esc/allocs/sites.go", 53, 16}));
  EXPECT_TRUE(verdict.message.empty());
  EXPECT_TRUE(verdict.flow.empty());
  EXPECT_TRUE(is_escape_code(escape.code));
}

TEST(CompilerLog, ReadsAnUnknownPositionInAnExplanation) {
  auto log = parse_compiler_log(kGo119Log, "leak.json");
  ASSERT_TRUE(log) << log.error().message;
  EXPECT_EQ(log->gc_version, "go1.19.8");
  ASSERT_EQ(log->diagnostics.size(), 1u);
  const CompilerDiagnostic& leak = log->diagnostics[0];
  EXPECT_EQ(leak.code, "leak");
  EXPECT_EQ(leak.message, "parameter kept leaks to {heap} with derefs=1");
  ASSERT_EQ(leak.flow.size(), 3u);
  EXPECT_EQ(leak.flow[1].text, "from leakRounds(kept, 25) (call parameter)");
  EXPECT_EQ(leak.flow[2].text, "flow: {heap} = *{temp}:");
  EXPECT_EQ(leak.flow[2].position, (SourcePosition{"", 0, 0}));
}

TEST(CompilerLog, DecodesFileUris) {
  EXPECT_EQ(file_uri_path("file:///a/b%20c/d.go"), "/a/b c/d.go");
  EXPECT_EQ(file_uri_path("file://example.com/m/x.go"), "example.com/m/x.go");  // -trimpath
  EXPECT_EQ(file_uri_path("file:"), "");
  EXPECT_EQ(file_uri_path("file:///bad%2"), std::nullopt);
  EXPECT_EQ(file_uri_path("file:///bad%zz"), std::nullopt);
  EXPECT_EQ(file_uri_path("http://x/y.go"), std::nullopt);
  EXPECT_EQ(file_uri_path("file:relative"), std::nullopt);
}

// Each damaged copy fails, naming the file and, past the header, the line.
TEST(CompilerLog, RefusesDamagedLogs) {
  auto error_of = [](const std::string& text) {
    auto log = parse_compiler_log(text, "x.json");
    return log ? std::string("parsed") : log.error().message;
  };
  std::string header = kGo119Log.substr(0, kGo119Log.find('\n') + 1);
  std::string leak = kGo119Log.substr(header.size());
  EXPECT_EQ(error_of(""), "'x.json': empty, not a Go compiler log");
  EXPECT_EQ(error_of("{\"version\":1}\n"), "'x.json': not a Go compiler log: not a version 0 log");
  EXPECT_EQ(error_of(header + leak.substr(0, 40) + "\n"), "'x.json': line 2: not JSON");
  EXPECT_EQ(error_of(header + "[1,2]\n"), "'x.json': line 2: not an object");
  std::string no_code = leak;
  no_code.replace(no_code.find("\"code\""), 6, "\"mode\"");
  EXPECT_EQ(error_of(header + no_code), "'x.json': line 2: no code");
  std::string negative = leak;
  negative.replace(negative.find("\"line\":106"), 10, "\"line\":-10");
  EXPECT_EQ(error_of(header + negative), "'x.json': line 2: no range");
  std::string huge = leak;
  huge.replace(huge.find("\"line\":106"), 10, "\"line\":99999999999");
  EXPECT_EQ(error_of(header + huge), "'x.json': line 2: no range");
  std::string untagged = leak;
  untagged.replace(untagged.find("escflow:"), 8, "because:");
  EXPECT_EQ(error_of(header + untagged), "'x.json': line 2: malformed relatedInformation");
  std::string bad_uri = leak;
  bad_uri.replace(bad_uri.find("file:///"), 8, "ftp:///");
  EXPECT_EQ(error_of(header + bad_uri), "'x.json': line 2: malformed relatedInformation");
}

}  // namespace
}  // namespace gotrace
