// The command line as a user meets it: exit codes and one-line errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "symbolizer/go_binary.h"
#include "tests/unit/test_support.h"

namespace gotrace {
namespace {

using testing::ChildProcess;
using testing::CommandResult;
using testing::fixture_builds;
using testing::gotrace_binary;
using testing::run_command;

CommandResult gotrace(std::vector<std::string> args) {
  args.insert(args.begin(), gotrace_binary());
  return run_command(args);
}

// A scratch copy of a file that a test may damage.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& name)
      : path_(std::filesystem::temp_directory_path() / ("gotrace-test-" + std::to_string(getpid()) + "-" + name)) {}
  ~ScratchFile() { std::filesystem::remove(path_); }
  const std::string path() const { return path_.string(); }
  void write(const std::string& bytes) { std::ofstream(path_, std::ios::binary) << bytes; }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string plain_fixture() {
  for (const auto& build : fixture_builds("symtest"))
    if (build.variant == "plain") return build.path;
  return fixture_builds("symtest").front().path;
}

void expect_one_line_error(const CommandResult& result, int exit_code, const std::string& message) {
  EXPECT_EQ(result.exit_code, exit_code) << result.err;
  EXPECT_EQ(result.err, "gotrace: error: " + message + "\n");
  EXPECT_EQ(result.out, "");
}

TEST(Cli, HelpGoesToStdoutWithExitZero) {
  auto result = gotrace({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("Exit status:"), std::string::npos);
  EXPECT_NE(result.out.find("symbolize"), std::string::npos);
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(gotrace({}).exit_code, 2);
  EXPECT_EQ(gotrace({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(gotrace({"symbolize"}).exit_code, 2);
  EXPECT_EQ(gotrace({"info", "--bogus", "x"}).exit_code, 2);
  auto bad_address = gotrace({"symbolize", plain_fixture(), "0xzz"});
  expect_one_line_error(bad_address, 2, "'0xzz': not a hexadecimal address");
}

TEST(Cli, MissingFile) {
  expect_one_line_error(gotrace({"info", "/nonexistent/server"}), 1, "'/nonexistent/server': No such file or directory");
}

TEST(Cli, NotAnElfFile) {
  ScratchFile text("text");
  text.write("#!/bin/sh\necho hello\n");
  expect_one_line_error(gotrace({"info", text.path()}), 1, "'" + text.path() + "': not an ELF file");
  ScratchFile empty("empty");
  empty.write("");
  expect_one_line_error(gotrace({"symbolize", empty.path(), "0x1"}), 1, "'" + empty.path() + "': not an ELF file (empty)");
}

TEST(Cli, ElfThatIsNotGo) {
  expect_one_line_error(gotrace({"info", "/bin/true"}), 1,
                        "'/bin/true': not a Go binary (no pclntab or Go build information found)");
}

TEST(Cli, GoBinaryOlderThanSupported) {
  // A real binary whose pclntab carries the Go 1.2–1.15 magic.
  std::string bytes = read_file(plain_fixture());
  auto binary = GoBinary::open(plain_fixture());
  ASSERT_TRUE(binary);
  auto offset = (*binary)->file_offset((*binary)->pclntab_vaddr());
  ASSERT_TRUE(offset);
  bytes[*offset] = char(0xfb);
  ScratchFile old("old");
  old.write(bytes);
  expect_one_line_error(gotrace({"info", old.path()}), 1,
                        "'" + old.path() + "': Go binary older than Go 1.16 (pclntab format go1.2) is not supported");
}

TEST(Cli, TruncatedBinary) {
  std::string bytes = read_file(plain_fixture());
  ScratchFile cut("cut");
  cut.write(bytes.substr(0, bytes.size() / 2));
  expect_one_line_error(gotrace({"info", cut.path()}), 1,
                        "'" + cut.path() + "': truncated ELF file (a loadable segment extends past the end of the file)");
}

TEST(Cli, CorruptPclntabHeader) {
  std::string bytes = read_file(plain_fixture());
  auto binary = GoBinary::open(plain_fixture());
  ASSERT_TRUE(binary);
  auto offset = (*binary)->file_offset((*binary)->pclntab_vaddr());
  ASSERT_TRUE(offset);
  // Point the function-name area far past the end of the table.
  for (int i = 0; i < 8; ++i) bytes[*offset + 32 + i] = char(0x7f);
  ScratchFile corrupt("corrupt");
  corrupt.write(bytes);
  expect_one_line_error(gotrace({"info", corrupt.path()}), 1,
                        "'" + corrupt.path() + "': corrupt pclntab (area offsets out of order or out of bounds)");
}

TEST(Cli, NoSuchProcessAndKernelThread) {
  expect_one_line_error(gotrace({"info", "999999999"}), 1, "pid 999999999: no such process");
  expect_one_line_error(gotrace({"info", "2"}), 1, "pid 2: has no executable (a kernel thread, or exiting)");
}

TEST(Cli, SymbolizeJsonOneLinePerAddressInOrder) {
  std::string path = plain_fixture();
  auto binary = GoBinary::open(path);
  ASSERT_TRUE(binary);
  auto main_main = (*binary)->find_function("main.main");
  ASSERT_TRUE(main_main);
  auto result = gotrace({"symbolize", "--json", path, fmt::format("0x{:x}", main_main->entry), "0x10"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto newline = result.out.find('\n');
  std::string first = result.out.substr(0, newline), second = result.out.substr(newline + 1);
  EXPECT_EQ(first.rfind(fmt::format(R"({{"addr":"0x{:x}","frames":[{{"function":"main.main","file":")", main_main->entry), 0), 0u)
      << first;
  EXPECT_EQ(second, R"({"addr":"0x10","frames":[],"error":"address outside the Go text"})" "\n");
}

TEST(Cli, InfoOnARunningProcess) {
  for (const auto& build : fixture_builds("symtest")) {
    if (build.variant != "pie") continue;
    SCOPED_TRACE(build.label());
    ChildProcess child({build.path});
    child.read_until("ready");
    auto result = gotrace({"info", std::to_string(child.pid())});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("pid:            " + std::to_string(child.pid())), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("go version:     " + build.go_version), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("runtime.mallocgc"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("load bias:"), std::string::npos) << result.out;
    EXPECT_EQ(child.wait(), 0);
  }
}

}  // namespace
}  // namespace gotrace
