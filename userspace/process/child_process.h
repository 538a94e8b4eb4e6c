// The program `gotrace run` starts: forked at once, but exec'd only when
// released, so that the probes are in place before its first instruction.
#pragma once

#include <sys/signalfd.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "base/fd.h"
#include "base/result.h"

namespace gotrace {

class ChildProcess {
 public:
  // Forks a child that waits to exec `path` with `argv`. `input` becomes its
  // stdin and `output` its stdout and stderr where given (else it inherits
  // gotrace's). Signals blocked in gotrace are unblocked in the child.
  static Result<ChildProcess> start_held(const std::string& path, const std::vector<std::string>& argv, Fd input,
                                         Fd output);
  ChildProcess(ChildProcess&&) = default;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // Readable once the child has exited.
  int pidfd() const { return pidfd_.get(); }

  // Lets the child exec; fails, naming the program, when the exec fails.
  Status release();
  // Ends a child that was never released, or whose exec failed.
  void abandon();
  // Waits for the child; its status as gotrace's exit code (128+N when
  // signal N killed it).
  int wait();
  // wait(), for a child that may run on for long: each stop signal (SIGINT,
  // SIGTERM, SIGHUP, blocked in gotrace) sent to gotrace is passed on to the
  // child, as during a trace; those the terminal sends reach it by themselves.
  int wait_passing_signals();
  // Passes a stop signal gotrace received on to the child, unless the
  // terminal sent it (it reaches the child by itself then).
  void pass_on(const signalfd_siginfo& signal) const;

 private:
  ChildProcess(pid_t pid, std::string path, Fd go, Fd exec_status, Fd pidfd)
      : pid_(pid), path_(std::move(path)), go_(std::move(go)), exec_status_(std::move(exec_status)),
        pidfd_(std::move(pidfd)) {}

  pid_t pid_ = -1;
  std::string path_;
  Fd go_;           // one byte written: exec now; closed unwritten: give up
  Fd exec_status_;  // the exec's errno, or end of file when it succeeded
  Fd pidfd_;
  bool reaped_ = false;
};

// execvp's search of PATH, done up front so that the binary can be
// inspected before it runs.
Result<std::string> find_executable(const std::string& name);

}  // namespace gotrace
