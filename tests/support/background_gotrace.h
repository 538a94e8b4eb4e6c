// gotrace running beside a test, as a user's shell would leave it running:
// the test signals it, kills it, waits for it, and reads what it printed so
// far. Its stdout and stderr go to files (no pipe to keep drained), its
// stdin is /dev/null, and it leads a process group of its own, which the
// destructor kills if it is still there (with what `gotrace run` started).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/scratch_file.h"

namespace gotrace::testing {

class BackgroundGotrace {
 public:
  // Starts the gotrace under test with `args`; the clock of started() starts
  // just before the fork.
  explicit BackgroundGotrace(const std::vector<std::string>& args);
  ~BackgroundGotrace();
  BackgroundGotrace(const BackgroundGotrace&) = delete;
  BackgroundGotrace& operator=(const BackgroundGotrace&) = delete;

  pid_t pid() const { return pid_; }
  std::chrono::steady_clock::time_point started() const { return started_; }

  // Whether stderr has said "gotrace: attached to pid ..." (the probes are
  // live); waits up to `timeout` for it, and returns false at once if
  // gotrace exits without saying it.
  bool wait_attached(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // Whether it has said so by now, without waiting.
  bool said_attached() const;

  void signal(int signal) const;
  // Waits for gotrace to exit and returns its status (128+N when signal N
  // ended it); after `timeout` kills it, adds a test failure and returns -1.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  bool exited() const { return pid_ < 0; }

  std::string out() const { return stdout_->read(); }
  std::string err() const { return stderr_->read(); }

 private:
  pid_t pid_ = -1;
  std::chrono::steady_clock::time_point started_;
  std::unique_ptr<ScratchFile> stdout_, stderr_;
};

}  // namespace gotrace::testing
