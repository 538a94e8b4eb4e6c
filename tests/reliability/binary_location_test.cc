// Targets whose binary gotrace cannot simply open by the path the process
// shows: deleted after the start, replaced at the same path by another
// program, on a tmpfs mounted in the target's own mount namespace (invisible
// from gotrace's), or under a chroot. gotrace must probe the code the
// process runs (through /proc/<pid>/exe or /proc/<pid>/root), count exactly
// and symbolize the stacks.
#include <signal.h>

#include <gtest/gtest.h>

#include <filesystem>

#include <fmt/format.h>

#include "tests/reliability/reliability_support.h"
#include "tests/support/background_gotrace.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/leftovers.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;
namespace fs = std::filesystem;

constexpr int kBurst = 5000;

// Attaches to `target`, has it allocate kBurst objects at main.siteBurst,
// and checks that they were all counted under a symbolized stack, and that
// the announcement names `shown_path`.
void expect_traced_exactly(ChurnTarget& target, const std::string& shown_path) {
  LeftoverCheck check;
  ScratchFile folded("location.folded");
  BackgroundGotrace tracer({"attach", std::to_string(target.pid()), "--exact", "--no-tui", "--folded", folded.path()});
  ASSERT_TRUE(tracer.wait_attached()) << tracer.err();
  EXPECT_NE(tracer.err().find(fmt::format("attached to pid {} ({}, go", target.pid(), shown_path)), std::string::npos)
      << tracer.err();
  ASSERT_TRUE(target.burst(kBurst));
  tracer.signal(SIGINT);
  ASSERT_EQ(tracer.wait(), 0) << tracer.err();
  std::string stacks = folded.read();
  EXPECT_EQ(folded_count_at(stacks, "main.siteBurst"), uint64_t(kBurst)) << stacks.substr(0, 3000);
  EXPECT_NE(stacks.find("main.churnCommands;main.siteBurst "), std::string::npos) << stacks.substr(0, 3000);
  EXPECT_TRUE(check.nothing_left({target.pid()}));
  EXPECT_EQ(target.finish().exit_code, 0);
}

TEST(Faults, DeletedBinaryIsTracedThroughTheProcess) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchDirectory directory("deleted-binary");
  std::string path = directory.path() + "/allocs";
  fs::copy_file(local_build("allocs", "pie"), path);
  ChurnTarget target(path, {"env", "GOMAXPROCS=1"});
  fs::remove(path);
  expect_traced_exactly(target, path);
}

TEST(Faults, ReplacedBinaryIsTracedThroughTheProcess) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchDirectory directory("replaced-binary");
  std::string path = directory.path() + "/allocs";
  fs::copy_file(local_build("allocs", "plain"), path);
  ChurnTarget target(path, {"env", "GOMAXPROCS=1"});
  // Another Go program at the same path: what a deploy that replaced the
  // binary under a running process leaves.
  fs::remove(path);
  fs::copy_file(local_build("service", "plain"), path);
  expect_traced_exactly(target, path);
}

TEST(Faults, TargetInItsOwnMountNamespaceIsTraced) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchDirectory mount_point("private-mount");
  std::string path = mount_point.path() + "/allocs";
  // A tmpfs over the directory in the target's namespace alone, the binary on it.
  std::string script = R"(mount -t tmpfs gotrace-test "$1" && cp "$2" "$1/allocs" && shift 2 && exec "$@")";
  ChurnTarget target(path, {"env", "GOMAXPROCS=1", "unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                            script, "sh", mount_point.path(), local_build("allocs", "plain")});
  ASSERT_TRUE(target.running());
  ASSERT_FALSE(fs::exists(path)) << "the target's tmpfs is visible from the test's namespace";
  expect_traced_exactly(target, path);
}

TEST(Faults, TargetInAChrootIsTraced) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchDirectory root("chroot");
  fs::copy_file(local_build("allocs", "stripped"), root.path() + "/allocs");
  ChurnTarget target("/allocs", {"env", "GOMAXPROCS=1", "chroot", root.path()});
  // The kernel shows the binary's path from gotrace's root, not the target's.
  expect_traced_exactly(target, root.path() + "/allocs");
}

}  // namespace
}  // namespace gotrace
