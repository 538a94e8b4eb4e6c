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

TEST(Cli, MalformedNumbersAreUsageErrorsNamingTheFlag) {
  // Checked before anything else: no such process 1 is ever looked at.
  // tests/reliability/bad_values_test.cc has the whole table.
  expect_one_line_error(run_gotrace({"attach", "1", "-d", "10x"}), 2,
                        "-d/--duration '10x': not a duration: unknown unit 'x' (units ms, s, m, h: e.g. 30s, 2m, "
                        "1h30m, 500ms)");
  expect_one_line_error(run_gotrace({"attach", "1", "--duration", "nans"}), 2,
                        "-d/--duration 'nans': not a duration: 'nans' does not start with a number (units ms, s, m, "
                        "h: e.g. 30s, 2m, 1h30m, 500ms)");
  expect_one_line_error(run_gotrace({"attach", "1", "-d", ""}), 2,
                        "-d/--duration '': not a duration: empty (units ms, s, m, h: e.g. 30s, 2m, 1h30m, 500ms)");
  expect_one_line_error(run_gotrace({"attach", "12x"}), 2, "PID '12x': not a process id: 'x' after the number");
  expect_one_line_error(run_gotrace({"run", "--sample-rate", "-1", "--", "true"}), 2,
                        "--sample-rate '-1': not a number of bytes: negative");
  expect_one_line_error(run_gotrace({"info", "99999999999"}), 2,
                        "TARGET '99999999999': not a Go executable or a process id: more than 4194303, the most "
                        "allowed");
  expect_one_line_error(run_gotrace({"symbolize", "/bin/true", "0x1", "0xg"}), 2,
                        "ADDR '0xg': not a hexadecimal address: not a hexadecimal number");
}

TEST(Cli, AttachNamesItsProcessesOneWay) {
  expect_one_line_error(run_gotrace({"attach"}), 2, "attach: name the processes to trace: PID..., --all or --cgroup PATH");
  std::string exclusive = "attach: PID..., --all and --cgroup exclude each other: each says which processes to trace";
  expect_one_line_error(run_gotrace({"attach", "1", "--all"}), 2, exclusive);
  expect_one_line_error(run_gotrace({"attach", "--all", "--cgroup", "system.slice"}), 2, exclusive);
}

TEST(Cli, AgentSaysWhatIsWrongWithItsFlagsBeforeItStarts) {
  expect_one_line_error(run_gotrace({"agent"}), 2, "agent: say where the profiles go: --push URL, --dir DIR, or both");
  expect_one_line_error(run_gotrace({"agent", "--dir", "/tmp/x", "--interval", "500ms"}), 2,
                        "--interval '500ms': not an interval: below the shortest, 1s");
  expect_one_line_error(run_gotrace({"agent", "--push", "ftp://x"}), 2,
                        "--push 'ftp://x': the scheme must be http or https, as in http://pyroscope:4040");
  expect_one_line_error(run_gotrace({"agent", "--push", "http://x", "--tls-ca", "/ca.pem"}), 2,
                        "--push 'http://x': the TLS options are for an https URL");
  expect_one_line_error(run_gotrace({"agent", "--dir", "/tmp/x", "--label", "pid=1"}), 2,
                        "--label 'pid=1': 'pid' is a label the agent sets itself");
  expect_one_line_error(run_gotrace({"agent", "--dir", "/tmp/x", "--tenant", "a"}), 2,
                        "agent: --basic-auth, --bearer-token-file, --tenant and --tls-* are for --push");
  expect_one_line_error(run_gotrace({"agent", "--dir", "/tmp/x", "--push-queue", "12XB"}), 2,
                        "--push-queue '12XB': not a size: use a number and a unit, e.g. 256MiB, 1GiB, 512m");
}

TEST(Cli, MalformedMaxMemory) {
  // Refused before the process is looked at, for attach and run alike.
  expect_one_line_error(run_gotrace({"attach", "1", "--max-memory", "12XB"}), 2,
                        "--max-memory '12XB': not a memory bound: use a number and a unit, e.g. 256MiB, 1GiB, 512m");
  expect_one_line_error(run_gotrace({"run", "--max-memory", "", "--", "true"}), 2,
                        "--max-memory '': not a memory bound: use a number and a unit, e.g. 256MiB, 1GiB, 512m");
  expect_one_line_error(run_gotrace({"attach", "1", "--max-memory", "1MiB"}), 2,
                        "--max-memory '1MiB': not a memory bound: below the smallest, 4MiB");
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
  expect_one_line_error(run_gotrace({"info", "4194303"}), 1, "pid 4194303: no such process");
  // Only root may look at where a process of another user runs from.
  if (geteuid() == 0) {
    expect_one_line_error(run_gotrace({"info", "2"}), 1, "pid 2: has no executable (a kernel thread, or exiting)");
  } else {
    expect_one_line_error(run_gotrace({"info", "2"}), 1,
                          "pid 2: permission denied (a process of another user needs root or CAP_SYS_PTRACE)");
  }
}

}  // namespace
}  // namespace gotrace
