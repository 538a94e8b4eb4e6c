// The files gotrace writes its results to, in a temporary directory of the
// test's own.
#include "base/output_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

namespace fs = std::filesystem;
using testing::read_file;

class OutputFile : public ::testing::Test {
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

  fs::path directory_;
};

TEST_F(OutputFile, WritesEveryByteAndLeavesNoTemporaryFile) {
  const std::string bytes("\x1f\x8b\0binary\0\n", 10);
  ASSERT_TRUE(write_file_atomically(path("out.pb.gz"), bytes));
  EXPECT_EQ(read_file(path("out.pb.gz")), bytes);
  EXPECT_EQ(listing(), std::vector<std::string>{"out.pb.gz"});
}

TEST_F(OutputFile, ReplacesAnOlderFileWhole) {
  ASSERT_TRUE(write_file_atomically(path("out.folded"), std::string(10000, 'a')));
  ASSERT_TRUE(write_file_atomically(path("out.folded"), "main.main 1\n"));
  EXPECT_EQ(read_file(path("out.folded")), "main.main 1\n");
  EXPECT_EQ(listing(), std::vector<std::string>{"out.folded"});
}

TEST_F(OutputFile, WriteIntoAMissingDirectoryFailsWithTheCause) {
  std::string missing = path("no/such/dir/out.pb.gz");
  auto written = write_file_atomically(missing, "x");
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().message, "'" + missing + "': cannot write: No such file or directory");
  EXPECT_TRUE(listing().empty());
}

TEST_F(OutputFile, WriteOverADirectoryFailsAndLeavesItAlone) {
  fs::create_directory(path("taken"));
  auto written = write_file_atomically(path("taken"), "x");
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().message, "'" + path("taken") + "': cannot write: Is a directory");
  EXPECT_TRUE(fs::is_directory(path("taken")));
  EXPECT_EQ(listing(), std::vector<std::string>{"taken"});
}

TEST_F(OutputFile, NoPathIsNothingToCheck) { EXPECT_TRUE(check_output_writable("")); }

TEST_F(OutputFile, CheckLeavesNothingBehindAndExistingFilesAlone) {
  EXPECT_TRUE(check_output_writable(path("new.pb.gz")));
  EXPECT_TRUE(listing().empty());
  ASSERT_TRUE(write_file_atomically(path("old.pb.gz"), "kept"));
  EXPECT_TRUE(check_output_writable(path("old.pb.gz")));
  EXPECT_EQ(read_file(path("old.pb.gz")), "kept");
  EXPECT_EQ(listing(), std::vector<std::string>{"old.pb.gz"});
}

TEST_F(OutputFile, CheckAcceptsATemporaryFileLeftByAnEarlierRun) {
  // An interrupted write leaves <path>.tmp; it must not stop the next trace.
  std::ofstream(path("out.pb.gz.tmp")) << "half a profile";
  EXPECT_TRUE(check_output_writable(path("out.pb.gz")));
  ASSERT_TRUE(write_file_atomically(path("out.pb.gz"), "whole"));
  EXPECT_EQ(read_file(path("out.pb.gz")), "whole");
}

TEST_F(OutputFile, CheckRefusesADirectoryAndAMissingOne) {
  auto directory = check_output_writable(directory_.string());
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().message, "'" + directory_.string() + "': is a directory");
  std::string missing = path("no/such/dir/out.folded");
  auto in_missing = check_output_writable(missing);
  ASSERT_FALSE(in_missing);
  EXPECT_EQ(in_missing.error().message, "'" + missing + "': cannot write: No such file or directory");
}

}  // namespace
}  // namespace gotrace
