// The Go fixture programs of tests/fixtures, built by
// scripts/build-fixtures.sh for every toolchain in its matrix and listed in
// its manifest. Only the fixture and integration tiers read them.
#pragma once

#include <string>
#include <vector>

namespace gotrace::testing {

// One built fixture from tests/fixtures, as listed by scripts/build-fixtures.sh.
struct FixtureBuild {
  std::string fixture;     // the directory name under tests/fixtures
  std::string go_version;  // e.g. "go1.21.13"
  std::string variant;     // plain, stripped, pie, cgo, cgo-pie
  std::string path;        // absolute path of the binary
  std::string label() const { return fixture + "/" + go_version + "/" + variant; }
};

// All builds in the fixture manifest ($GOTRACE_FIXTURE_MANIFEST, or the one
// in the build tree). Aborts the test binary with a message when it is
// missing: CTest builds the fixtures before the tests, so that is a failure.
const std::vector<FixtureBuild>& fixture_builds();
// The builds of one fixture; aborts the same way when there are none.
std::vector<FixtureBuild> fixture_builds(const std::string& fixture);
// The first `variant` build of `fixture`, by whichever toolchain; a test
// failure and "" when there is none.
std::string any_build(const std::string& fixture, const std::string& variant);
// The `variant` build of `fixture` by the machine's own Go; a test failure
// and "" when there is none.
std::string local_build(const std::string& fixture, const std::string& variant);

// The build `go tool objdump` reads for `build`: itself, or for a stripped
// build, which objdump cannot read, the plain build by the same toolchain,
// whose code is the same. A test failure and `build`'s path when there is none.
std::string objdump_path(const FixtureBuild& build);

}  // namespace gotrace::testing
