// The files gotrace writes its results to, in a temporary directory of the
// test's own.
#include "base/output_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

namespace fs = std::filesystem;
using testing::read_file;

class OutputFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "gotrace-output-file-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
  }
  void TearDown() override { fs::remove_all(directory_); }

  std::string path(const std::string& name) const { return (directory_ / name).string(); }
  // What the directory holds, by name.
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(directory_)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  // An output named by --output.
  static OutputPath out(const std::string& path) { return {"--output", path}; }
  static OutputPath folded(const std::string& path) { return {"--folded", path}; }
  Status write(const std::string& name, std::string_view bytes) const { return write_output(out(path(name)), bytes); }

  fs::path directory_;
};


TEST_F(OutputFiles, WritesEveryByteAndLeavesNoTemporaryFile) {
  const std::string bytes("\x1f\x8b\0binary\0\n", 10);
  ASSERT_TRUE(write("out.pb.gz", bytes));
  EXPECT_EQ(read_file(path("out.pb.gz")), bytes);
  EXPECT_EQ(listing(), std::vector<std::string>{"out.pb.gz"});
}

TEST_F(OutputFiles, StreamsMoreThanItsBufferInPieces) {
  auto file = OutputFile::create(out(path("big")));
  ASSERT_TRUE(file);
  std::string expected;
  for (int i = 0; i < 5000; ++i) {
    std::string line = std::to_string(i) + std::string(i % 97, 'x') + "\n";
    ASSERT_TRUE(file->write(line));
    expected += line;
  }
  EXPECT_FALSE(fs::exists(path("big"))) << "visible before commit";
  ASSERT_TRUE(file->commit());
  EXPECT_EQ(read_file(path("big")), expected);
}

TEST_F(OutputFiles, ReplacesAnOlderFileWholeAndKeepsItsPermissions) {
  ASSERT_TRUE(write("out.folded", std::string(10000, 'a')));
  ASSERT_EQ(chmod(path("out.folded").c_str(), 0600), 0);
  ASSERT_TRUE(write("out.folded", "main.main 1\n"));
  EXPECT_EQ(read_file(path("out.folded")), "main.main 1\n");
  EXPECT_EQ(fs::status(path("out.folded")).permissions(), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(listing(), std::vector<std::string>{"out.folded"});
}

TEST_F(OutputFiles, AnOutputNotCommittedLeavesTheOldFileAsItWas) {
  ASSERT_TRUE(write("out.pb.gz", "old"));
  {
    auto file = OutputFile::create(out(path("out.pb.gz")));
    ASSERT_TRUE(file);
    ASSERT_TRUE(file->write(std::string(200000, 'n')));
  }
  EXPECT_EQ(read_file(path("out.pb.gz")), "old");
  EXPECT_EQ(listing(), std::vector<std::string>{"out.pb.gz"});
}

TEST_F(OutputFiles, NeverTouchesTheUsersFileNamedLikeATemporaryOne) {
  std::ofstream(path("out.pb.gz.tmp")) << "the user's";
  ASSERT_TRUE(check_outputs({out(path("out.pb.gz"))}));
  ASSERT_TRUE(write("out.pb.gz", "whole"));
  EXPECT_EQ(read_file(path("out.pb.gz")), "whole");
  EXPECT_EQ(read_file(path("out.pb.gz.tmp")), "the user's");
}

TEST_F(OutputFiles, WritesThroughASymlinkAndKeepsIt) {
  ASSERT_TRUE(write("real", "old"));
  fs::create_symlink("real", path("link"));
  ASSERT_TRUE(check_outputs({out(path("link"))}));
  ASSERT_TRUE(write("link", "new"));
  EXPECT_TRUE(fs::is_symlink(path("link")));
  EXPECT_EQ(read_file(path("real")), "new");
  EXPECT_EQ(listing(), (std::vector<std::string>{"link", "real"}));
}

TEST_F(OutputFiles, ADanglingSymlinkGetsTheFileItNames) {
  fs::create_directory(path("sub"));
  fs::create_symlink("sub/made", path("link"));
  ASSERT_TRUE(write("link", "made"));
  EXPECT_TRUE(fs::is_symlink(path("link")));
  EXPECT_EQ(read_file(path("sub/made")), "made");
}

TEST_F(OutputFiles, WritesThroughAPipeAndLeavesItAPipe) {
  ASSERT_EQ(mkfifo(path("fifo").c_str(), 0600), 0);
  std::string received;
  int reader = open(path("fifo").c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  fcntl(reader, F_SETFL, 0);
  // A writer of the test's own until gotrace's is done: a read with no writer
  // at all is the end of the stream, and the drain would stop before it began.
  int held_open = open(path("fifo").c_str(), O_WRONLY);
  ASSERT_GE(held_open, 0);
  std::thread drain([&] {
    char buffer[4096];
    for (ssize_t n; (n = read(reader, buffer, sizeof(buffer))) > 0;) received.append(buffer, n);
  });
  Status written = write("fifo", std::string(300000, 'p'));
  close(held_open);
  drain.join();
  close(reader);
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(received, std::string(300000, 'p'));
  EXPECT_TRUE(fs::is_fifo(path("fifo")));
}

TEST_F(OutputFiles, APipeWithNoReaderIsAnErrorNotAHang) {
  ASSERT_EQ(mkfifo(path("fifo").c_str(), 0600), 0);
  Status written = write("fifo", "x");
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().message, "--output '" + path("fifo") + "': a pipe with no reader");
  EXPECT_TRUE(fs::is_fifo(path("fifo")));
}

TEST_F(OutputFiles, ADescriptorLinkIsWrittenThroughNotReplaced) {
  // /dev/stdout is such a link: to a pipe, or to a file the shell opened.
  ASSERT_TRUE(write("shell-output", "before\n"));
  int fd = open(path("shell-output").c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  struct stat before;
  ASSERT_EQ(fstat(fd, &before), 0);
  Status written = write_output(folded("/proc/self/fd/" + std::to_string(fd)), "after\n");
  struct stat after;
  ASSERT_EQ(stat(path("shell-output").c_str(), &after), 0);
  close(fd);
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(after.st_ino, before.st_ino) << "the file was replaced";
  EXPECT_EQ(read_file(path("shell-output")), "before\nafter\n");
}

TEST_F(OutputFiles, DashIsStandardOutput) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  int saved = dup(STDOUT_FILENO);
  dup2(pipe_fds[1], STDOUT_FILENO);
  close(pipe_fds[1]);
  ASSERT_TRUE(check_outputs({out("-")}));
  Status written = write_output(out("-"), "to stdout");
  dup2(saved, STDOUT_FILENO);
  close(saved);
  char buffer[64] = {};
  ssize_t n = read(pipe_fds[0], buffer, sizeof(buffer));
  close(pipe_fds[0]);
  ASSERT_TRUE(written);
  EXPECT_EQ(std::string(buffer, n > 0 ? n : 0), "to stdout");
}

TEST_F(OutputFiles, CheckCreatesNothingAndLeavesExistingFilesAlone) {
  EXPECT_TRUE(check_outputs({out(path("new.pb.gz")), folded("")}));
  EXPECT_TRUE(listing().empty());
  ASSERT_TRUE(write("old.pb.gz", "kept"));
  EXPECT_TRUE(check_outputs({out(path("old.pb.gz"))}));
  EXPECT_EQ(read_file(path("old.pb.gz")), "kept");
  EXPECT_EQ(listing(), std::vector<std::string>{"old.pb.gz"});
}

TEST_F(OutputFiles, CheckReportsEveryProblemNamingTheOption) {
  std::string missing = path("no/such/dir/out.folded");
  auto checked = check_outputs({out(directory_.string()), folded(missing)});
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().message,
            "--output '" + directory_.string() + "': is a directory\n--folded '" + missing + "': cannot write: no directory '" +
                path("no/such/dir") + "'");
  EXPECT_TRUE(fs::is_directory(directory_));
}

TEST_F(OutputFiles, CheckRefusesTwoOutputsToOneFileHoweverNamed) {
  auto same = check_outputs({out(path("a")), folded(path("a"))});
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().message, "--folded '" + path("a") + "': is the same file as --output '" + path("a") + "'");
  fs::create_symlink("a", path("b"));
  EXPECT_FALSE(check_outputs({out(path("a")), folded(path("b"))}));
  EXPECT_FALSE(check_outputs({out(path("./a")), folded(path("a"))}));
  EXPECT_FALSE(check_outputs({out("-"), folded("-")}));
  EXPECT_TRUE(check_outputs({out(path("a")), folded(path("c"))}));
  EXPECT_TRUE(check_outputs({out("/dev/null"), folded("/dev/null")}));
  EXPECT_TRUE(listing() == std::vector<std::string>{"b"});
}

}  // namespace
}  // namespace gotrace
