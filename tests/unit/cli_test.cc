// The command line as a user meets it, where no Go binary is needed: help,
// usage errors, and one-line errors for what is not there or not Go.
#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/support/gotrace_command.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using testing::expect_one_line_error;
using testing::run_gotrace;
using testing::ScratchFile;

TEST(Cli, HelpGoesToStdoutWithExitZero) {
  auto result = run_gotrace({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("Exit status:"), std::string::npos);
  EXPECT_NE(result.out.find("symbolize"), std::string::npos);
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run_gotrace({}).exit_code, 2);
  EXPECT_EQ(run_gotrace({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(run_gotrace({"symbolize"}).exit_code, 2);
  EXPECT_EQ(run_gotrace({"info", "--bogus", "x"}).exit_code, 2);
}

TEST(Cli, MalformedDuration) {
  expect_one_line_error(run_gotrace({"attach", "1", "-d", "10x"}), 2,
                        "'10x': not a duration (use e.g. 30s, 2m, 1h30m, 500ms)");
  expect_one_line_error(run_gotrace({"attach", "1", "-d", "-5s"}), 2,
                        "'-5s': not a duration (use e.g. 30s, 2m, 1h30m, 500ms)");
}

TEST(Cli, MalformedMaxMemory) {
  // Refused before the process is looked at, for attach and run alike.
  expect_one_line_error(run_gotrace({"attach", "1", "--max-memory", "12XB"}), 2,
                        "--max-memory '12XB': not a size (use e.g. 256MiB, 1GiB, 512m)");
  expect_one_line_error(run_gotrace({"run", "--max-memory", "", "--", "true"}), 2,
                        "--max-memory '': not a size (use e.g. 256MiB, 1GiB, 512m)");
  expect_one_line_error(run_gotrace({"attach", "1", "--max-memory", "1MiB"}), 2,
                        "--max-memory '1MiB': below the smallest bound, 4MiB");
}

TEST(Cli, LiveViewWithoutATerminal) {
  // Refused before anything else is checked: this needs no privileges.
  expect_one_line_error(run_gotrace({"run", "--tui", "--", "true"}), 1,
                        "--tui: the live view needs a terminal on stdin and stdout");
}

TEST(Cli, MissingFile) {
  expect_one_line_error(run_gotrace({"info", "/nonexistent/server"}), 1,
                        "'/nonexistent/server': No such file or directory");
}

TEST(Cli, NotAnElfFile) {
  ScratchFile text("text");
  text.write("#!/bin/sh\necho hello\n");
  expect_one_line_error(run_gotrace({"info", text.path()}), 1, "'" + text.path() + "': not an ELF file");
  ScratchFile empty("empty");
  empty.write("");
  expect_one_line_error(run_gotrace({"symbolize", empty.path(), "0x1"}), 1,
                        "'" + empty.path() + "': not an ELF file (empty)");
}

TEST(Cli, ElfThatIsNotGo) {
  expect_one_line_error(run_gotrace({"info", "/bin/true"}), 1,
                        "'/bin/true': not a Go binary (no pclntab or Go build information found)");
}

TEST(Cli, NoSuchProcessAndKernelThread) {
  expect_one_line_error(run_gotrace({"info", "999999999"}), 1, "pid 999999999: no such process");
  // Only root may look at where a process of another user runs from.
  if (geteuid() == 0) {
    expect_one_line_error(run_gotrace({"info", "2"}), 1, "pid 2: has no executable (a kernel thread, or exiting)");
  } else {
    expect_one_line_error(run_gotrace({"info", "2"}), 1,
                          "pid 2: permission denied (run as root, or as the process's owner)");
  }
}

}  // namespace
}  // namespace gotrace
