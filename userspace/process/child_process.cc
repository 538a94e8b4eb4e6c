#include "userspace/process/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "userspace/process/target_process.h"

namespace gotrace {
namespace {

// In the child, between fork and exec: async-signal-safe calls only. Any
// failure is reported through `status` as an errno, as a failed exec is.
[[noreturn]] void exec_when_told(const char* path, char* const* argv, int input, int output, int go, int status) {
  auto fail = [status](int error) {
    (void)!write(status, &error, sizeof(error));
    _exit(127);
  };
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, nullptr) != 0) fail(errno);
  if (input >= 0 && dup2(input, STDIN_FILENO) < 0) fail(errno);
  if (output >= 0 && (dup2(output, STDOUT_FILENO) < 0 || dup2(output, STDERR_FILENO) < 0)) fail(errno);
  // Capabilities gotrace was given to trace (as ambient ones, by setpriv or
  // systemd's AmbientCapabilities) are not the program's: it runs as it
  // would without gotrace. EINVAL: a kernel without ambient capabilities.
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) fail(errno);
  char byte;
  if (read(go, &byte, 1) != 1) _exit(127);  // gotrace gave up
  execv(path, argv);
  fail(errno);
  _exit(127);
}

}  // namespace

Result<ChildProcess> ChildProcess::start_held(const std::string& path, const std::vector<std::string>& argv, Fd input,
                                              Fd output) {
  int go[2], status[2];
  if (pipe2(go, O_CLOEXEC) != 0) return make_error("cannot create a pipe: {}", std::strerror(errno));
  Fd go_read(go[0]), go_write(go[1]);
  if (pipe2(status, O_CLOEXEC) != 0) return make_error("cannot create a pipe: {}", std::strerror(errno));
  Fd status_read(status[0]), status_write(status[1]);
  // Built before the fork: the child may only make async-signal-safe calls.
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return make_error("cannot fork: {}", std::strerror(errno));
  if (pid == 0) exec_when_told(path.c_str(), args.data(), input.get(), output.get(), go_read.get(), status_write.get());
  auto pidfd = open_pidfd(pid);
  ChildProcess child(pid, path, std::move(go_write), std::move(status_read), pidfd ? std::move(*pidfd) : Fd());
  if (!pidfd) {
    child.abandon();
    return pidfd.error();
  }
  return child;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !reaped_ && go_.get() >= 0) abandon();
}

Status ChildProcess::release() {
  if (write(go_.get(), "g", 1) != 1) return make_error("cannot run '{}': {}", path_, std::strerror(errno));
  go_.reset();
  int exec_error = 0;
  if (read(exec_status_.get(), &exec_error, sizeof(exec_error)) == sizeof(exec_error)) {
    wait();
    return make_error("cannot run '{}': {}", path_, std::strerror(exec_error));
  }
  return Ok{};
}

void ChildProcess::abandon() {
  if (reaped_) return;
  kill(pid_, SIGKILL);
  go_.reset();
  wait();
}

int ChildProcess::wait() {
  if (reaped_) return 1;
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

void ChildProcess::pass_on(const signalfd_siginfo& signal) const {
  if (signal.ssi_code != SI_KERNEL) kill(pid_, int(signal.ssi_signo));
}

int ChildProcess::wait_passing_signals() {
  sigset_t signals = stop_signals();
  Fd signal_fd(signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
  if (reaped_ || signal_fd.get() < 0 || pidfd_.get() < 0) return wait();
  pollfd fds[2] = {{pidfd_.get(), POLLIN, 0}, {signal_fd.get(), POLLIN, 0}};
  while (poll(fds, 2, -1) >= 0 || errno == EINTR) {
    if (fds[0].revents != 0) break;
    signalfd_siginfo info;
    while (read(signal_fd.get(), &info, sizeof(info)) == sizeof(info))
      pass_on(info);
  }
  return wait();
}

Result<std::string> find_executable(const std::string& name) {
  auto executable = [](const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) {
    if (executable(name)) return name;
    return make_error("'{}': {}", name,
                      access(name.c_str(), F_OK) == 0 ? "not an executable file" : "No such file or directory");
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (executable(candidate)) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return make_error("'{}': command not found", name);
}

}  // namespace gotrace
