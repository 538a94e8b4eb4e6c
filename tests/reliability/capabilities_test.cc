// The capabilities the README documents, tested as a user who is not root
// and has exactly those: CAP_SYS_ADMIN (the kernel requires it to create a
// uprobe; CAP_BPF with CAP_PERFMON is refused on Linux 6.18) and, to attach
// to a process of another user, CAP_SYS_PTRACE besides. With one of them
// dropped gotrace refuses in one line that names the one missing.
//
// gotrace runs as nobody (uid and gid 65534, no groups) through setpriv,
// with the capabilities inheritable and ambient; the target runs as root,
// from the fixture cache under /root (0700), which nobody cannot search:
// gotrace reads it through /proc/<pid>/exe.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;
namespace fs = std::filesystem;

// A fresh directory that nobody can read, with copies of gotrace and of a Go
// program in it (the build tree may not be reachable for nobody).
class NobodysDirectory {
 public:
  NobodysDirectory() {
    char name[] = "/tmp/gotrace-caps-XXXXXX";
    path_ = mkdtemp(name) != nullptr ? name : "";
    chmod(path_.c_str(), 0755);
  }
  ~NobodysDirectory() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  // A copy of `file` in the directory, mode 0755.
  std::string copy(const std::string& file, const std::string& name) const {
    fs::path to = fs::path(path_) / name;
    fs::copy_file(file, to, fs::copy_options::overwrite_existing);
    fs::permissions(to, fs::perms(0755));
    return to.string();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// `argv` run as nobody with exactly `capabilities` ("+sys_admin,+sys_ptrace";
// "" for none).
CommandResult as_nobody(const std::string& capabilities, std::vector<std::string> argv) {
  std::string set = capabilities.empty() ? "-all" : "-all," + capabilities;
  std::vector<std::string> command = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                      "--inh-caps=" + set, "--ambient-caps=" + set, "--"};
  command.insert(command.end(), argv.begin(), argv.end());
  return run_command(command);
}

#define REQUIRE_ROOT_TO_SWITCH_USERS()                                              \
  do {                                                                              \
    REQUIRE_BPF_PRIVILEGES();                                                       \
    if (geteuid() != 0) GTEST_SKIP() << "switching to another user needs root";    \
  } while (0)

class Capabilities : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(directory_.path().empty());
    gotrace_ = directory_.copy(gotrace_binary(), "gotrace");
  }
  NobodysDirectory directory_;
  std::string gotrace_;
};

TEST_F(Capabilities, TheTestRunsAsNobodyWithExactlyThoseCapabilities) {
  REQUIRE_ROOT_TO_SWITCH_USERS();
  auto result = as_nobody("+sys_admin,+sys_ptrace", {"/bin/sh", "-c", "id -u; id -g; grep CapEff /proc/self/status"});
  EXPECT_EQ(result.out, "65534\n65534\nCapEff:\t0000000000280000\n") << result.err;  // bits 19 and 21
}

TEST_F(Capabilities, AttachToAProcessOfAnotherUserWithSysAdminAndSysPtrace) {
  REQUIRE_ROOT_TO_SWITCH_USERS();
  ChildProcess target({local_build("allocs", "plain"), "steady"});  // root's
  target.read_until("steady");
  auto result = as_nobody("+sys_admin,+sys_ptrace", {gotrace_, "attach", std::to_string(target.pid()), "-d", "1s"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("0 events lost"), std::string::npos) << result.err;
  // Allocations counted at the target's own sites: the table of call sites.
  EXPECT_NE(result.out.find("main.siteSteadyA"), std::string::npos) << result.out << result.err;
  target.close_stdin();
  EXPECT_EQ(target.wait(), 0);
}

TEST_F(Capabilities, RunWithSysAdminAlone) {
  REQUIRE_ROOT_TO_SWITCH_USERS();
  std::string program = directory_.copy(local_build("allocs", "plain"), "allocs");
  auto result = as_nobody("+sys_admin", {gotrace_, "run", "--", program, "exit", "3"});
  EXPECT_EQ(result.exit_code, 3) << result.err;  // the program's own status
  EXPECT_NE(result.err.find("(until it exited)"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("main."), std::string::npos) << result.err;  // its call sites, on stderr under run
}

// The capabilities gotrace was given are its own: the program `run` starts
// has none of them.
TEST_F(Capabilities, TheProgramRunStartsDoesNotInheritThem) {
  REQUIRE_ROOT_TO_SWITCH_USERS();
  std::string program = directory_.copy(local_build("allocs", "plain"), "allocs");
  ChildProcess traced({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all,+sys_admin",
                       "--ambient-caps=-all,+sys_admin", "--", gotrace_, "run", "--", program, "steady"});
  traced.read_until("steady");
  // setpriv became gotrace; its one child is the program.
  std::string children = read_file("/proc/" + std::to_string(traced.pid()) + "/task/" +
                                   std::to_string(traced.pid()) + "/children");
  pid_t program_pid = std::atoi(children.c_str());
  ASSERT_GT(program_pid, 0) << "children: '" << children << "'";
  std::string status = read_file("/proc/" + std::to_string(program_pid) + "/status");
  std::string own = read_file("/proc/" + std::to_string(traced.pid()) + "/status");
  traced.close_stdin();
  EXPECT_EQ(traced.wait(), 0);
  EXPECT_NE(own.find("CapEff:\t0000000000200000\n"), std::string::npos) << own;  // gotrace's: CAP_SYS_ADMIN
  for (const char* set : {"CapPrm", "CapEff", "CapAmb"})
    EXPECT_NE(status.find(std::string(set) + ":\t0000000000000000\n"), std::string::npos) << set << "\n" << status;
}

TEST_F(Capabilities, EachMissingCapabilityIsNamed) {
  REQUIRE_ROOT_TO_SWITCH_USERS();
  ChildProcess target({local_build("allocs", "plain"), "steady"});
  target.read_until("steady");
  std::string pid = std::to_string(target.pid());
  const std::string no_sys_admin =
      "loading the BPF probe needs root or CAP_SYS_ADMIN, which the kernel requires for uprobes (CAP_BPF and "
      "CAP_PERFMON are not enough; missing: CAP_SYS_ADMIN)";
  // Without CAP_SYS_ADMIN; the set this README documented before, too.
  expect_one_line_error(as_nobody("+sys_ptrace", {gotrace_, "attach", pid, "-d", "1s"}), 1, no_sys_admin);
  expect_one_line_error(as_nobody("+bpf,+perfmon,+sys_ptrace", {gotrace_, "attach", pid, "-d", "1s"}), 1,
                        no_sys_admin);
  expect_one_line_error(as_nobody("", {gotrace_, "run", "--", "/bin/true"}), 1, no_sys_admin);
  // Without CAP_SYS_PTRACE, for root's process.
  expect_one_line_error(as_nobody("+sys_admin", {gotrace_, "attach", pid, "-d", "1s"}), 1,
                        "pid " + pid +
                            ": a process of another user (uid 0): tracing it needs root, or CAP_SYS_PTRACE besides "
                            "CAP_SYS_ADMIN (missing: CAP_SYS_PTRACE)");
  target.close_stdin();
  EXPECT_EQ(target.wait(), 0);
}

}  // namespace
}  // namespace gotrace
