// What tracing refuses, with one line, a clear cause, and nothing attached.
//
// These need root (or CAP_SYS_ADMIN). CI runs as
// root; a developer run without them skips with the reason printed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;

TEST(TracerBadInput, NoSuchProcess) {
  REQUIRE_BPF_PRIVILEGES();
  // The largest pid there can be, and none on a test machine.
  expect_one_line_error(run_gotrace({"attach", "4194303"}), 1, "pid 4194303: no such process");
}

TEST(TracerBadInput, KernelThread) {
  REQUIRE_BPF_PRIVILEGES();
  expect_one_line_error(run_gotrace({"attach", "2"}), 1, "pid 2: has no executable (a kernel thread, or exiting)");
}

TEST(TracerBadInput, NotAGoProgram) {
  REQUIRE_BPF_PRIVILEGES();
  ChildProcess shell({"/bin/sh", "-c", "read line"});
  auto result = run_gotrace({"attach", std::to_string(shell.pid())});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(result.err.starts_with("gotrace: error: '/")) << result.err;
  EXPECT_TRUE(result.err.ends_with("': not a Go binary (no pclntab or Go build information found)\n")) << result.err;
}

// An executable copy of the plain allocs build of `version` in which every
// occurrence of the version string (build info included) says `claimed`;
// nullptr, and a test failure, when there is no such build.
std::unique_ptr<ScratchFile> build_claiming_version(const std::string& version, const std::string& claimed) {
  std::string path;
  for (const auto& build : fixture_builds("allocs"))
    if (build.go_version == version && build.variant == "plain") path = build.path;
  if (path.empty() || claimed.size() != version.size()) {
    ADD_FAILURE() << "no plain allocs build of " << version;
    return nullptr;
  }
  std::string bytes = read_file(path);
  for (size_t at = bytes.find(version); at != std::string::npos; at = bytes.find(version, at))
    bytes.replace(at, version.size(), claimed);
  auto copy = std::make_unique<ScratchFile>(claimed);
  copy->write(bytes);
  std::filesystem::permissions(copy->path(), std::filesystem::perms::owner_all);
  return copy;
}

TEST(TracerBadInput, GoReleaseTooOld) {
  REQUIRE_BPF_PRIVILEGES();
  auto old = build_claiming_version("go1.19.8", "go1.16.8");
  ASSERT_TRUE(old);
  expect_one_line_error(run_gotrace({"run", "--", old->path()}), 1,
                        "'" + old->path() + "': built by go1.16.8; tracing needs Go 1.17 or later (the register ABI)");
}

TEST(TracerBadInput, GoReleaseNewerThanVerifiedNeedsOptIn) {
  REQUIRE_BPF_PRIVILEGES();
  auto future = build_claiming_version("go1.27.4", "go1.28.4");
  ASSERT_TRUE(future);
  expect_one_line_error(
      run_gotrace({"run", "--", future->path(), "exit", "0"}), 1,
      "'" + future->path() + "': built by go1.28.4, newer than go1.27, the newest release gotrace is verified on; its "
      "allocator may have entry points gotrace would miss (--allow-unverified-go traces it anyway)");
  auto opted_in = run_gotrace({"run", "--allow-unverified-go", "--", future->path(), "exit", "0"});
  EXPECT_EQ(opted_in.exit_code, 0) << opted_in.err;
}

TEST(TracerBadInput, UnwritableOutput) {
  REQUIRE_BPF_PRIVILEGES();
  expect_one_line_error(run_gotrace({"attach", "1", "-o", "/nonexistent/dir/out.pb.gz"}), 1,
                        "--output '/nonexistent/dir/out.pb.gz': cannot write: no directory '/nonexistent/dir'");
  expect_one_line_error(run_gotrace({"run", "--folded", "/tmp", "--", "true"}), 1, "--folded '/tmp': is a directory");
}

TEST(TracerBadInput, CommandNotFound) {
  REQUIRE_BPF_PRIVILEGES();
  expect_one_line_error(run_gotrace({"run", "--", "/nonexistent/server"}), 1,
                        "'/nonexistent/server': No such file or directory");
  expect_one_line_error(run_gotrace({"run", "--", "no-such-command-anywhere"}), 1,
                        "'no-such-command-anywhere': command not found");
}

TEST(TracerBadInput, WithoutPrivileges) {
  if (geteuid() != 0) GTEST_SKIP() << "dropping privileges needs root";
  // setpriv (util-linux) runs gotrace as nobody, with no capabilities.
  auto result = run_command({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                             gotrace_binary(), "attach", "1"});
  expect_one_line_error(result, 1,
                        "loading the BPF probe needs root or CAP_SYS_ADMIN, which the kernel requires for uprobes "
                        "(CAP_BPF and CAP_PERFMON are not enough; missing: CAP_SYS_ADMIN)");
}

}  // namespace
}  // namespace gotrace
