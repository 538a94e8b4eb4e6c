// Shared helpers for tests: the Go fixture manifest and running programs.
#pragma once

#include <sys/types.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "userspace/probe/alloc_probe.h"

// Tests of real tracing need root, or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN.
// CI runs as root; a developer run without them skips with the reason.
#define REQUIRE_BPF_PRIVILEGES()                                                  \
  do {                                                                            \
    if (auto missing = ::gotrace::missing_bpf_privileges()) GTEST_SKIP() << *missing; \
  } while (0)

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
std::vector<FixtureBuild> fixture_builds(const std::string& fixture);
// The `variant` build of `fixture` by the machine's own Go; a test failure
// and "" when there is none.
std::string local_build(const std::string& fixture, const std::string& variant);

struct CommandResult {
  int exit_code = -1;  // 128+signal when killed by a signal
  std::string out;
  std::string err;
};

// Runs argv to completion with `input` on stdin.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& input = "");

// The gotrace executable under test ($GOTRACE_BINARY, or the one just built).
std::string gotrace_binary();

// A child process with pipes on stdin and stdout, for fixtures that print,
// then wait until stdin is closed.
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Reads stdout lines until one equals `marker` (exclusive) or EOF; returns them.
  std::vector<std::string> read_until(const std::string& marker);
  void close_stdin();
  int wait();  // exit code

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
};

}  // namespace gotrace::testing
