// The go build that compiles a binary's packages again
// (userspace/explain/go_build_flags.h): the recorded settings turned back
// into flags and environment, and which per-package -gcflags apply to a
// package, by the rules of `go help build`.
#include <gtest/gtest.h>

#include <algorithm>

#include "userspace/explain/go_build_flags.h"
#include "userspace/explain/module_source.h"

namespace gotrace {
namespace {

// What `go version -m` shows of a binary built with
// `GOEXPERIMENT=sizespecializedmalloc CGO_ENABLED=1 go build -trimpath -tags foo -gcflags=all=-l -pgo=off`.
BuildInfo recorded_build() {
  BuildInfo info;
  info.go_version = "go1.26.8";
  info.experiments = {"sizespecializedmalloc"};
  info.main_path = "gotrace.test/allocs";
  info.main_module = "gotrace.test/allocs (devel)";
  info.settings = {{"-buildmode", "exe"}, {"-compiler", "gc"},       {"-gcflags", "all=-l"},
                   {"-tags", "foo"},      {"-trimpath", "true"},     {"DefaultGODEBUG", "panicnil=1"},
                   {"CGO_ENABLED", "1"},  {"GOARCH", "amd64"},       {"GOEXPERIMENT", "sizespecializedmalloc"},
                   {"GOOS", "linux"},     {"GOAMD64", "v3"}};
  return info;
}

bool has(const std::vector<std::string>& flags, const std::string& flag) {
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

std::string environment_value(const GoBuildSettings& settings, const std::string& name) {
  for (const auto& [key, value] : settings.environment)
    if (key == name) return value;
  return "<unset>";
}

TEST(GoBuildFlags, RecordedSettingsBecomeFlagsAndEnvironment) {
  auto settings = build_settings_of(recorded_build());
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->go_version, "go1.26.8");
  EXPECT_TRUE(has(settings->flags, "-buildmode=exe"));
  EXPECT_TRUE(has(settings->flags, "-tags=foo"));
  EXPECT_TRUE(has(settings->flags, "-trimpath"));
  EXPECT_TRUE(settings->trimpath);
  EXPECT_EQ(settings->gcflags, "all=-l");
  EXPECT_FALSE(settings->pgo_profile.has_value());
  EXPECT_TRUE(settings->pgo_flag_known);
  EXPECT_EQ(environment_value(*settings, "CGO_ENABLED"), "1");
  EXPECT_EQ(environment_value(*settings, "GOAMD64"), "v3");
  EXPECT_EQ(environment_value(*settings, "GOEXPERIMENT"), "sizespecializedmalloc");
  EXPECT_EQ(environment_value(*settings, "DefaultGODEBUG"), "<unset>");
}

TEST(GoBuildFlags, ExperimentsComeFromTheVersionWhenNotRecordedApart) {
  BuildInfo info = recorded_build();
  info.settings.erase(std::remove_if(info.settings.begin(), info.settings.end(),
                                     [](const auto& setting) { return setting.first == "GOEXPERIMENT"; }),
                      info.settings.end());
  info.experiments = {"a", "b"};
  auto settings = build_settings_of(info);
  ASSERT_TRUE(settings);
  EXPECT_EQ(environment_value(*settings, "GOEXPERIMENT"), "a,b");
  info.experiments.clear();
  settings = build_settings_of(info);
  ASSERT_TRUE(settings);
  EXPECT_EQ(environment_value(*settings, "GOEXPERIMENT"), "");  // set, so that the caller's is not used
}

TEST(GoBuildFlags, BuildsThatCannotBeRepeatedAreRefused) {
  auto error_with = [](const std::string& key, const std::string& value) {
    BuildInfo info = recorded_build();
    for (auto& setting : info.settings)
      if (setting.first == key) setting.second = value;
    auto settings = build_settings_of(info);
    return settings ? std::string("accepted") : settings.error().message;
  };
  EXPECT_EQ(error_with("-buildmode", "c-archive"), "built with -buildmode=c-archive; only exe and pie are supported");
  EXPECT_EQ(error_with("-compiler", "gccgo"), "built with -compiler=gccgo; only gc is supported");
  EXPECT_EQ(error_with("GOARCH", "arm64"), "built for linux/arm64; only linux/amd64 builds can be compiled again here");
  EXPECT_EQ(error_with("-buildmode", "pie"), "accepted");
  BuildInfo devel = recorded_build();
  devel.go_version = "devel go1.27-abcdef";
  auto settings = build_settings_of(devel);
  ASSERT_FALSE(settings);
  EXPECT_EQ(settings.error().message,
            "built by Go 'devel go1.27-abcdef', not a release whose toolchain can be fetched");
}

TEST(GoBuildFlags, PerPackageFlagsApplyAsGoBuildDecides) {
  PackageRef main{"example.com/m/cmd/tool", "cmd/tool", true};
  PackageRef library{"example.com/m/internal/store", "internal/store", false};
  // No pattern: the command line's packages only.
  EXPECT_EQ(flags_for_package("-N -l", main), "-N -l");
  EXPECT_EQ(flags_for_package("-N -l", library), std::nullopt);
  EXPECT_EQ(flags_for_package("", main), "");
  EXPECT_EQ(flags_for_package("all=-l", library), "-l");
  EXPECT_EQ(flags_for_package("std=-l", library), std::nullopt);
  EXPECT_EQ(flags_for_package("example.com/m/...=-m", main), "-m");
  EXPECT_EQ(flags_for_package("example.com/m/internal/...=-m", main), std::nullopt);
  EXPECT_EQ(flags_for_package("example.com/m/internal/...=-m", library), "-m");
  EXPECT_EQ(flags_for_package(" example.com/.../store = -B", library), " -B");
  EXPECT_EQ(flags_for_package("./...=-l", library), "-l");
  EXPECT_EQ(flags_for_package("./cmd/tool=-l", main), "-l");
  EXPECT_EQ(flags_for_package("./cmd/tool=-l", library), std::nullopt);
  EXPECT_EQ(flags_for_package("../...=-l", library), std::nullopt);
  EXPECT_EQ(flags_for_package("=-l", library), std::nullopt);
}

TEST(GoBuildFlags, ImportPatterns) {
  EXPECT_TRUE(import_pattern_matches("example.com/m/...", "example.com/m", false));  // "x/..." matches x
  EXPECT_TRUE(import_pattern_matches("...", "anything/at/all", false));
  EXPECT_TRUE(import_pattern_matches("net/...", "net/http", true));
  EXPECT_FALSE(import_pattern_matches("net/...", "netip", true));
  EXPECT_TRUE(import_pattern_matches("std", "net/http", true));
  EXPECT_FALSE(import_pattern_matches("cmd", "net/http", true));
  EXPECT_TRUE(import_pattern_matches("a...b...c", "a-x-b-y-c", false));
  EXPECT_FALSE(import_pattern_matches("a...b...c", "a-x-c-y-b", false));
  // A pattern of many wildcards against a long path takes no exponential time.
  EXPECT_FALSE(import_pattern_matches("a...a...a...a...a...a...a...a...b", std::string(2000, 'a'), false));
}

TEST(ModuleSource, ReadsTheModuleLine) {
  EXPECT_EQ(go_mod_module_path("module gotrace.test/allocs\n\ngo 1.19\n"), "gotrace.test/allocs");
  EXPECT_EQ(go_mod_module_path("// comment\n  module \"example.com/q\" // why\r\n"), "example.com/q");
  EXPECT_EQ(go_mod_module_path("modules x\n"), std::nullopt);
  EXPECT_EQ(go_mod_module_path("go 1.21\n"), std::nullopt);
  EXPECT_EQ(go_mod_module_path("module\n"), std::nullopt);
}

TEST(ModuleSource, PathsUnderARoot) {
  EXPECT_EQ(path_under("/src/m/pkg/a.go", "/src/m"), "pkg/a.go");
  EXPECT_EQ(path_under("/src/mod/a.go", "/src/m"), std::nullopt);
  EXPECT_EQ(path_under("/src/m", "/src/m"), std::nullopt);
  EXPECT_EQ(path_under("example.com/m/a.go", "example.com/m"), "a.go");
  EXPECT_EQ(directory_of("pkg/sub/a.go"), "pkg/sub");
  EXPECT_EQ(directory_of("a.go"), "");
}

}  // namespace
}  // namespace gotrace
