#include "tests/support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <string>

namespace gotrace::testing {
namespace {

// Nothing a test could check is left when the machine runs out of pipes or
// processes: stop the whole run with the reason.
[[noreturn]] void fatal(const std::string& message) {
  std::cerr << "test setup: " << message << std::endl;
  std::abort();
}

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const std::string& arg : argv) out.push_back(const_cast<char*>(arg.c_str()));
  out.push_back(nullptr);
  return out;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, const std::string& input) {
  // Close-on-exec, so that no other child (a tracer, a target) holds a copy
  // and keeps a pipe open after its owner closed it.
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) || pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC)) fatal("pipe failed");
  pid_t pid = fork();
  if (pid < 0) fatal("fork failed");
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    auto args = c_argv(argv);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  CommandResult result;
  size_t written = 0;
  int in_fd = in_pipe[1];
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  } else {
    // Partial writes only: a blocking write could wait on a child that is
    // itself waiting for us to read its output.
    fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
  }
  struct pollfd fds[3];
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    int n = 0;
    int out_index = -1, err_index = -1, in_index = -1;
    if (out_open) { fds[n] = {out_pipe[0], POLLIN, 0}; out_index = n++; }
    if (err_open) { fds[n] = {err_pipe[0], POLLIN, 0}; err_index = n++; }
    if (in_fd >= 0) { fds[n] = {in_fd, POLLOUT, 0}; in_index = n++; }
    if (poll(fds, n, -1) < 0) continue;
    if (in_index >= 0 && (fds[in_index].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = write(in_fd, input.data() + written, input.size() - written);
      if (w > 0) written += w;
      if ((w < 0 && errno != EAGAIN) || written == input.size()) { close(in_fd); in_fd = -1; }
    }
    auto drain = [&](int index, int fd, std::string* sink, bool* open) {
      if (index < 0 || !(fds[index].revents & (POLLIN | POLLHUP | POLLERR))) return;
      ssize_t r = read(fd, buf, sizeof(buf));
      if (r > 0) sink->append(buf, r);
      else *open = false;
    };
    drain(out_index, out_pipe[0], &result.out, &out_open);
    drain(err_index, err_pipe[0], &result.err, &err_open);
  }
  if (in_fd >= 0) close(in_fd);
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = decode_status(status);
  return result;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv) {
  int in_pipe[2], out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) || pipe2(out_pipe, O_CLOEXEC)) fatal("pipe failed");
  pid_ = fork();
  if (pid_ < 0) fatal("fork failed");
  if (pid_ == 0) {
    // A process group of its own, so that the destructor also ends whatever
    // it started (`go tool` runs the real tool as a child).
    setpgid(0, 0);
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]}) close(fd);
    auto args = c_argv(argv);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  stdin_fd_ = in_pipe[1];
  stdout_fd_ = out_pipe[0];
}

ChildProcess::~ChildProcess() {
  close_stdin();
  if (stdout_fd_ >= 0) close(stdout_fd_);
  if (pid_ > 0) {
    kill(-pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

std::vector<std::string> ChildProcess::read_until(const std::string& marker, bool prefix) {
  std::vector<std::string> lines;
  char buf[65536];
  for (;;) {
    size_t eol;
    while ((eol = buffer_.find('\n')) != std::string::npos) {
      std::string line = buffer_.substr(0, eol);
      buffer_.erase(0, eol + 1);
      if (prefix ? line.starts_with(marker) : line == marker) return lines;
      lines.push_back(std::move(line));
    }
    struct pollfd fd = {stdout_fd_, POLLIN, 0};
    if (poll(&fd, 1, 60000) <= 0) return lines;  // a fixture that hangs fails the test, not the run
    ssize_t r = read(stdout_fd_, buf, sizeof(buf));
    if (r <= 0) return lines;
    buffer_.append(buf, r);
  }
}

void ChildProcess::write_line(const std::string& line) {
  // A child that is gone makes this write fail (EPIPE) rather than end the test run.
  static const bool sigpipe_ignored = signal(SIGPIPE, SIG_IGN) != SIG_ERR;
  (void)sigpipe_ignored;
  std::string text = line + "\n";
  for (size_t done = 0; done < text.size() && stdin_fd_ >= 0;) {
    ssize_t n = write(stdin_fd_, text.data() + done, text.size() - done);
    if (n <= 0) return;  // the child is gone: what it says, or not, fails the test
    done += size_t(n);
  }
}

void ChildProcess::close_stdin() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  stdin_fd_ = -1;
}

int ChildProcess::wait() {
  close_stdin();
  int status = 0;
  if (waitpid(pid_, &status, 0) != pid_) return -1;
  pid_ = -1;
  return decode_status(status);
}

}  // namespace gotrace::testing
