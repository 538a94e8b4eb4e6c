// Programs a test runs: to completion, or alongside it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace gotrace::testing {

struct CommandResult {
  int exit_code = -1;  // 128+signal when killed by a signal
  std::string out;
  std::string err;
};

// Runs argv to completion with `input` on stdin.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& input = "");

// A child process with pipes on stdin and stdout, for fixtures that print,
// then wait until stdin is closed.
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Reads stdout lines until one equals `marker` (or, with `prefix`, starts
  // with it), exclusive, or EOF; returns them.
  std::vector<std::string> read_until(const std::string& marker, bool prefix = false);
  // Writes `line` and a newline to its stdin.
  void write_line(const std::string& line);
  void close_stdin();
  int wait();  // exit code

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
};

}  // namespace gotrace::testing
