// The escape analysis cache (userspace/explain/escape_cache.h): what is
// published is what is read back, with the module's files under the source
// root of the reader; the least recently used entries go first; digests tell
// their parts apart.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/scratch_file.h"
#include "userspace/explain/escape_cache.h"

namespace gotrace {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDirectory;

TEST(EscapeCache, PublishedEntryReadsBackUnderTheReadersRoot) {
  ScratchDirectory dir("escape-cache-unit");
  EscapeCache cache(dir.path(), "k1");
  EXPECT_FALSE(cache.load("/src").has_value());
  auto staging = cache.make_staging_dir();
  ASSERT_TRUE(staging) << staging.error().message;
  std::ofstream(*staging + "/build") << "binary";
  EscapeBuild build;
  build.build_root = "/build/m";
  CompilerDiagnostic diagnostic{{"/build/m/pkg/a.go", 7, 3},
                                {{"/goroot/src/strings/builder.go", 40, 2}},
                                "escape",
                                "x escapes to heap",
                                {{"flow: {heap} ← x:", {"/build/m/pkg/a.go", 8, 5}}, {"from x (spill)", {"", 0, 0}}}};
  build.diagnostics.push_back(diagnostic);
  build.lost_logs.emplace_back("pkg/type.go", "/goroot/src/sync/atomic/type.go");
  auto module_file = [](std::string_view file) -> std::optional<std::string> {
    if (!file.starts_with("/build/m/")) return std::nullopt;
    return std::string(file.substr(9));
  };
  ASSERT_TRUE(cache.publish(*staging, build, module_file));
  EXPECT_FALSE(fs::exists(*staging));
  auto loaded = cache.load("/elsewhere/m");
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->build_root, "/build/m");
  EXPECT_EQ(loaded->binary_path, cache.entry_dir() + "/build");
  EXPECT_EQ(loaded->lost_logs, build.lost_logs);
  ASSERT_EQ(loaded->diagnostics.size(), 1u);
  CompilerDiagnostic expected = diagnostic;
  expected.position.file = "/elsewhere/m/pkg/a.go";
  expected.flow[0].position.file = "/elsewhere/m/pkg/a.go";
  EXPECT_EQ(loaded->diagnostics[0], expected);
  // A damaged entry reads as none.
  std::ofstream(cache.entry_dir() + "/diagnostics.json", std::ios::trunc) << "{\"version\":1,\"diag";
  EXPECT_FALSE(cache.load("/src").has_value());
}

TEST(EscapeCache, PruneKeepsTheMostRecentlyUsed) {
  ScratchDirectory dir("escape-cache-prune");
  auto now = fs::file_time_type::clock::now();
  size_t total = EscapeCache::kMaxEntries + 3;
  auto entry = [&](size_t i) { return dir.path() + "/" + content_digest({std::to_string(i)}); };
  for (size_t i = 0; i < total; ++i) {
    fs::create_directories(entry(i));
    fs::last_write_time(entry(i), now - std::chrono::minutes(i));
  }
  std::string old_staging = dir.path() + "/.staging-" + content_digest({"old"}) + "-a1b2c3";
  std::string running = dir.path() + "/.staging-" + content_digest({"running"}) + "-d4e5f6";
  fs::create_directories(old_staging);
  fs::last_write_time(old_staging, now - std::chrono::hours(48));
  fs::create_directories(running);
  // What the cache did not make stays, however old: a user's directory,
  // and a link named like an entry, whose target is untouched.
  ScratchDirectory elsewhere("escape-cache-elsewhere");
  fs::create_directories(elsewhere.path() + "/keep");
  std::string foreign = dir.path() + "/notes", link = dir.path() + "/" + content_digest({"link"});
  fs::create_directories(foreign);
  fs::last_write_time(foreign, now - std::chrono::hours(48));
  fs::create_directory_symlink(elsewhere.path(), link);
  fs::last_write_time(elsewhere.path(), now - std::chrono::hours(48));  // the oldest, were it an entry
  EscapeCache(dir.path(), "any").prune();
  for (size_t i = 0; i < total; ++i) EXPECT_EQ(fs::exists(entry(i)), i < EscapeCache::kMaxEntries) << i;
  EXPECT_FALSE(fs::exists(old_staging));
  EXPECT_TRUE(fs::exists(running));
  EXPECT_TRUE(fs::exists(foreign));
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_TRUE(fs::exists(elsewhere.path() + "/keep"));
}

TEST(EscapeCache, DigestsTellPartsApart) {
  EXPECT_NE(content_digest({"ab", "c"}), content_digest({"a", "bc"}));
  EXPECT_EQ(content_digest({"a", "bc"}), content_digest({"a", "bc"}));
  EXPECT_NE(content_digest({"a", "bc"}), content_digest({"a", "bd"}));
  EXPECT_EQ(content_digest({}).size(), 32u);
}

}  // namespace
}  // namespace gotrace
