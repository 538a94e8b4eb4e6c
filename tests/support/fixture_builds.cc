#include "tests/support/fixture_builds.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "tests/support/child_process.h"

namespace gotrace::testing {
namespace {

// Without the fixtures no test of this binary can run: stop it with the
// reason rather than fail every test alike.
[[noreturn]] void fatal(const std::string& message) {
  std::cerr << "test setup: " << message << std::endl;
  std::abort();
}

std::vector<FixtureBuild> read_manifest(const char* manifest) {
  std::ifstream in(manifest);
  if (!in) fatal(std::string("cannot read fixture manifest ") + manifest + " (scripts/build-fixtures.sh writes it; ctest runs it first)");
  std::vector<FixtureBuild> out;
  std::string line;
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    FixtureBuild build;
    if (std::getline(fields, build.fixture, '\t') && std::getline(fields, build.go_version, '\t') &&
        std::getline(fields, build.variant, '\t') && std::getline(fields, build.path, '\t'))
      out.push_back(build);
  }
  if (out.empty()) fatal(std::string("fixture manifest is empty: ") + manifest);
  return out;
}

}  // namespace

const std::vector<FixtureBuild>& fixture_builds() {
  static const std::vector<FixtureBuild> builds = [] {
    const char* manifest = std::getenv("GOTRACE_FIXTURE_MANIFEST");
    return read_manifest(manifest != nullptr ? manifest : GOTRACE_TEST_FIXTURE_MANIFEST);
  }();
  return builds;
}

std::vector<FixtureBuild> fixture_builds(const std::string& fixture) {
  std::vector<FixtureBuild> out;
  for (const FixtureBuild& build : fixture_builds())
    if (build.fixture == fixture) out.push_back(build);
  if (out.empty()) fatal("no builds of fixture '" + fixture + "' in the manifest");
  return out;
}

std::string any_build(const std::string& fixture, const std::string& variant) {
  for (const auto& build : fixture_builds(fixture))
    if (build.variant == variant) return build.path;
  ADD_FAILURE() << "no " << variant << " build of " << fixture;
  return "";
}

std::string local_build(const std::string& fixture, const std::string& variant) {
  auto version = run_command({"go", "env", "GOVERSION"}).out;
  version = version.substr(0, version.find('\n'));
  for (const auto& build : fixture_builds(fixture))
    if (build.variant == variant && build.go_version == version) return build.path;
  ADD_FAILURE() << "no " << variant << " build of " << fixture << " by " << version;
  return "";
}

std::string objdump_path(const FixtureBuild& build) {
  if (build.variant != "stripped") return build.path;
  for (const FixtureBuild& other : fixture_builds(build.fixture))
    if (other.go_version == build.go_version && other.variant == "plain") return other.path;
  ADD_FAILURE() << "no plain build next to " << build.label();
  return build.path;
}

}  // namespace gotrace::testing
