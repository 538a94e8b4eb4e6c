// What the paths given to -o and --folded may name on a host, and what
// gotrace does with each: a device, a pipe, standard output, a symlink, a
// full disk, a file of the user's named like a temporary one. gotrace writes
// through what is not a regular file, never replaces it, and never deletes
// what it did not create. The device nodes are made for the test, on a
// file system of its own: the host's are never used.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::local_build;
using testing::read_file;
using testing::run_gotrace;

// A tmpfs of `size` mounted on a fresh directory for one test, unmounted
// and removed after it.
class ScratchMount {
 public:
  explicit ScratchMount(const std::string& size) {
    std::string pattern = (fs::temp_directory_path() / "gotrace-outputs-XXXXXX").string();
    if (!mkdtemp(pattern.data())) {
      error_ = std::strerror(errno);
      return;
    }
    path_ = pattern;
    std::string options = "size=" + size + ",mode=0755";
    mounted_ = mount("gotrace-test", path_.c_str(), "tmpfs", 0, options.c_str()) == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~ScratchMount() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
    if (!path_.empty()) rmdir(path_.c_str());
  }
  bool mounted() const { return mounted_; }
  std::string error() const { return error_; }  // why it is not mounted
  std::string path(const std::string& name) const { return (fs::path(path_) / name).string(); }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(path_)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::string path_;
  bool mounted_ = false;
  std::string error_;
};

// A device node of the kernel's memory devices (major 1): 3 is null, 7 full.
void make_memory_device(const std::string& path, unsigned minor) {
  ASSERT_EQ(mknod(path.c_str(), S_IFCHR | 0666, makedev(1, minor)), 0) << path << ": " << std::strerror(errno);
}

bool is_memory_device(const std::string& path, unsigned minor) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, minor);
}

// A short traced run of the allocs fixture, its own output kept apart.
CommandResult traced_run(const std::vector<std::string>& outputs) {
  std::vector<std::string> args{"run", "--program-output", "/dev/null"};
  args.insert(args.end(), outputs.begin(), outputs.end());
  args.insert(args.end(), {"--", local_build("allocs", "plain")});
  return run_gotrace(args);
}

bool is_gzip(const std::string& bytes) { return bytes.size() > 2 && bytes[0] == '\x1f' && bytes[1] == '\x8b'; }

// Each test's outputs go on a tmpfs of its own, 16 MiB at most.
class OutputPaths : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_BPF_PRIVILEGES();
    ASSERT_TRUE(scratch_.mounted()) << "cannot mount a tmpfs: " << scratch_.error();
  }

  ScratchMount scratch_{"16m"};
};

TEST_F(OutputPaths, ADeviceIsWrittenThroughAndStaysADevice) {
  make_memory_device(scratch_.path("null"), 3);
  auto result = traced_run({"-o", scratch_.path("null"), "--folded", scratch_.path("null")});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(is_memory_device(scratch_.path("null"), 3)) << "the device node was replaced";
  EXPECT_EQ(scratch_.listing(), std::vector<std::string>{"null"});
}

TEST_F(OutputPaths, AFullDeviceFailsThatOutputOnlyAndTheOthersAreWritten) {
  make_memory_device(scratch_.path("full"), 7);
  auto result = traced_run({"-o", scratch_.path("full"), "--folded", scratch_.path("out.folded")});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("gotrace: error: --output '" + scratch_.path("full") +
                            "': cannot write: No space left on device\n"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("allocations"), std::string::npos) << "no summary:\n" << result.err;
  EXPECT_TRUE(is_memory_device(scratch_.path("full"), 7));
  EXPECT_NE(read_file(scratch_.path("out.folded")).find("main."), std::string::npos);
}

TEST_F(OutputPaths, AFullDiskLeavesTheOldFileAsItWasAndNothingElse) {
  std::ofstream(scratch_.path("out.pb.gz")) << "the last profile";
  {
    // Fill the file system to the last block.
    std::ofstream filler(scratch_.path("filler"), std::ios::binary);
    std::string block(4096, 'f');
    while (filler.write(block.data(), block.size())) filler.flush();
  }
  auto result = traced_run({"-o", scratch_.path("out.pb.gz")});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("gotrace: error: --output '" + scratch_.path("out.pb.gz") + "': "), std::string::npos)
      << result.err;
  EXPECT_EQ(read_file(scratch_.path("out.pb.gz")), "the last profile");
  EXPECT_EQ(scratch_.listing(), (std::vector<std::string>{"filler", "out.pb.gz"}));
}

TEST_F(OutputPaths, APipeGetsTheWholeProfile) {
  ASSERT_EQ(mkfifo(scratch_.path("fifo").c_str(), 0600), 0);
  std::string received;
  std::thread reader([&] {
    // Opening blocks until gotrace opens the other end, at the end of the trace.
    std::ifstream in(scratch_.path("fifo"), std::ios::binary);
    received.assign(std::istreambuf_iterator<char>(in), {});
  });
  auto result = traced_run({"-o", scratch_.path("fifo")});
  if (result.exit_code != 0) std::ofstream(scratch_.path("fifo")) << "";  // let the reader go
  reader.join();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(fs::is_fifo(scratch_.path("fifo")));
  std::ofstream(scratch_.path("copy.pb.gz"), std::ios::binary) << received;
  auto top = testing::run_command({"go", "tool", "pprof", "-top", scratch_.path("copy.pb.gz")});
  EXPECT_EQ(top.exit_code, 0) << top.err;
  EXPECT_NE(top.out.find("main.siteLarge"), std::string::npos) << top.out;
}

TEST_F(OutputPaths, APipeWithNoReaderIsRefusedNotWaitedFor) {
  ASSERT_EQ(mkfifo(scratch_.path("fifo").c_str(), 0600), 0);
  auto result = traced_run({"--folded", scratch_.path("fifo")});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("--folded '" + scratch_.path("fifo") + "': a pipe with no reader"), std::string::npos)
      << result.err;
  EXPECT_TRUE(fs::is_fifo(scratch_.path("fifo")));
}

TEST_F(OutputPaths, DashAndALinkToStandardOutputWriteToStandardOutput) {
  auto dash = traced_run({"-o", "-"});
  ASSERT_EQ(dash.exit_code, 0) << dash.err;
  EXPECT_TRUE(is_gzip(dash.out));
  // /dev/stdout is a link to /proc/self/fd/1; this one is the test's own.
  fs::create_symlink("/proc/self/fd/1", scratch_.path("stdout"));
  auto linked = traced_run({"--folded", scratch_.path("stdout")});
  ASSERT_EQ(linked.exit_code, 0) << linked.err;
  EXPECT_NE(linked.out.find("main.siteLarge"), std::string::npos) << linked.out;
  EXPECT_TRUE(fs::is_symlink(scratch_.path("stdout")));
  // Under run, standard output is the program's unless it is sent elsewhere.
  testing::expect_one_line_error(
      run_gotrace({"run", "--folded", "-", "--", local_build("allocs", "plain")}), 1,
      "--folded '-': under run, standard output is the program's (--program-output FILE sends the program's "
      "output elsewhere)");
}

TEST_F(OutputPaths, ASymlinkIsFollowedAndKept) {
  fs::create_directory(scratch_.path("profiles"));
  fs::create_symlink("profiles/latest.pb.gz", scratch_.path("latest"));
  auto result = traced_run({"-o", scratch_.path("latest")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(fs::is_symlink(scratch_.path("latest")));
  EXPECT_TRUE(is_gzip(read_file(scratch_.path("profiles/latest.pb.gz"))));
}

TEST_F(OutputPaths, EveryBadOutputIsReportedAndNothingOfTheUsersIsTouched) {
  std::ofstream(scratch_.path("out.pb.gz.tmp")) << "the user's";
  fs::create_directory(scratch_.path("dir"));
  auto result = traced_run({"-o", scratch_.path("dir"), "--folded", scratch_.path("no/such/out.folded")});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, "gotrace: error: --output '" + scratch_.path("dir") +
                            "': is a directory\ngotrace: error: --folded '" + scratch_.path("no/such/out.folded") +
                            "': cannot write: no directory '" + scratch_.path("no/such") + "'\n");
  auto same = traced_run({"-o", scratch_.path("out.pb.gz"), "--folded", scratch_.path("out.pb.gz")});
  EXPECT_EQ(same.exit_code, 1);
  EXPECT_EQ(same.err, "gotrace: error: --folded '" + scratch_.path("out.pb.gz") + "': is the same file as --output '" +
                          scratch_.path("out.pb.gz") + "'\n");
  EXPECT_EQ(read_file(scratch_.path("out.pb.gz.tmp")), "the user's");
  EXPECT_EQ(scratch_.listing(), (std::vector<std::string>{"dir", "out.pb.gz.tmp"}));
}

}  // namespace
}  // namespace gotrace
