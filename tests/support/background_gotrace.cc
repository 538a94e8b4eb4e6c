#include "tests/support/background_gotrace.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "tests/support/gotrace_command.h"

namespace gotrace::testing {
namespace {

constexpr std::string_view kAttached = "gotrace: attached to pid ";

// A name for the output files unique to each gotrace of the test process.
std::string next_name(const char* stream) {
  static std::atomic<int> count{0};
  return "background-" + std::to_string(count++) + "." + stream;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// What each thread of a process that should have ended is doing: its
// state, the CPU it has had, and where the kernel holds it, so that a hang
// in CI says whether gotrace was busy, starved or blocked.
std::string threads_of(pid_t pid) {
  std::string text;
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid), error)) {
    std::ifstream stat_file(task.path() / "stat"), wchan_file(task.path() / "wchan");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), {}), wchan;
    std::getline(wchan_file, wchan);
    // After "(comm)": state, then utime and stime as the 12th and 13th fields.
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::vector<std::string> field{std::istream_iterator<std::string>(fields), {}};
    if (field.size() < 13) continue;
    double cpu = double(std::stoull(field[11]) + std::stoull(field[12])) / double(sysconf(_SC_CLK_TCK));
    text += fmt::format("  thread {}: state {}, {:.2f}s of CPU, waiting in {}\n", task.path().filename().string(),
                        field[0], cpu, wchan.empty() || wchan == "0" ? "nothing" : wchan);
  }
  return text;
}

}  // namespace

BackgroundGotrace::BackgroundGotrace(const std::vector<std::string>& args)
    : stdout_(std::make_unique<ScratchFile>(next_name("out"))), stderr_(std::make_unique<ScratchFile>(next_name("err"))) {
  std::vector<std::string> argv{gotrace_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> c_argv;
  for (std::string& arg : argv) c_argv.push_back(arg.data());
  c_argv.push_back(nullptr);
  // Opened before the fork, so that the child only dups and execs.
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out = open(stdout_->path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = open(stderr_->path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (in < 0 || out < 0 || err < 0) {
    std::cerr << "test setup: cannot open gotrace's stdin, stdout or stderr" << std::endl;
    std::abort();
  }
  started_ = std::chrono::steady_clock::now();
  pid_ = fork();
  if (pid_ == 0) {
    setpgid(0, 0);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execv(c_argv[0], c_argv.data());
    _exit(127);
  }
  for (int fd : {in, out, err}) close(fd);
  if (pid_ < 0) {
    std::cerr << "test setup: fork failed" << std::endl;
    std::abort();
  }
}

BackgroundGotrace::~BackgroundGotrace() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

bool BackgroundGotrace::said_attached() const { return err().find(kAttached) != std::string::npos; }

bool BackgroundGotrace::wait_attached(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (said_attached()) return true;
    // Exited (or reaped by wait()): it will not say it any more; one last look.
    siginfo_t info{};
    bool exited = pid_ < 0 || (waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid_);
    if (exited || std::chrono::steady_clock::now() >= deadline) return said_attached();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void BackgroundGotrace::signal(int signal) const {
  if (pid_ > 0) kill(pid_, signal);
}

int BackgroundGotrace::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ADD_FAILURE() << "gotrace (pid " << pid_ << ") still runs after " << timeout.count() << " ms; killed it. "
                    << "Its threads:\n" << threads_of(pid_) << "stderr:\n" << err();
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  pid_ = -1;
  return decode_status(status);
}

}  // namespace gotrace::testing
