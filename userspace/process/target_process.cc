#include "userspace/process/target_process.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

namespace gotrace {

Result<pid_t> process_of(pid_t id, std::string_view doing, std::ostream& note) {
  auto process = thread_group_of(id);
  if (!process) return process.error();
  if (*process != id) note << fmt::format("gotrace: {} is a thread of process {}; {}\n", id, *process, doing);
  return pid_t(*process);
}

Result<Fd> open_pidfd(pid_t pid) {
  Fd fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (fd.get() < 0) {
    if (errno == ESRCH) return make_error("pid {}: no such process", pid);
    return make_error("pid {}: cannot watch for its exit: {}", pid, std::strerror(errno));
  }
  return fd;
}

Result<uint64_t> read_target_word(int pid, uint64_t runtime_address) {
  uint64_t word = 0;
  if (runtime_address > UINTPTR_MAX - sizeof(word))
    return make_error("pid {}: cannot read 8 bytes at 0x{:x}: not an address", pid, runtime_address);
  struct iovec local = {&word, sizeof(word)};
  struct iovec remote = {reinterpret_cast<void*>(static_cast<uintptr_t>(runtime_address)), sizeof(word)};
  ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n == ssize_t(sizeof(word))) return word;
  if (n >= 0) return make_error("pid {}: cannot read 8 bytes at 0x{:x}: only {} readable", pid, runtime_address, n);
  if (errno == ESRCH) return make_error("pid {}: no such process", pid);
  return make_error("pid {}: cannot read 8 bytes at 0x{:x}: {}", pid, runtime_address, std::strerror(errno));
}

Result<std::string> current_program(pid_t pid) {
  std::string link = fmt::format("/proc/{}/exe", pid);
  char target[4096];
  ssize_t n = readlink(link.c_str(), target, sizeof(target));
  if (n < 0) return make_error("{}: {}", link, std::strerror(errno));
  if (size_t(n) == sizeof(target)) return make_error("{}: the path is too long", link);
  return std::string(target, size_t(n));
}

namespace {

// The file /proc/<pid>/exe leads to now.
Result<struct stat> running_file(pid_t pid) {
  struct stat st;
  std::string link = fmt::format("/proc/{}/exe", pid);
  if (stat(link.c_str(), &st) != 0) return make_error("{}: {}", link, std::strerror(errno));
  return st;
}

}  // namespace

Result<PinnedExecutable> pin_executable(const ProcessExecutable& process) {
  PinnedExecutable pinned;
  pinned.fd = Fd(open(process.open_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (pinned.fd.get() < 0) return make_error("'{}': {}", process.path, std::strerror(errno));
  struct stat st;
  if (fstat(pinned.fd.get(), &st) != 0) return make_error("'{}': {}", process.path, std::strerror(errno));
  pinned.device = st.st_dev;
  pinned.inode = st.st_ino;
  // By gotrace's pid rather than "self": the kernel keeps the path each
  // uprobe was made with, and tools (bpftool perf) show it to others.
  pinned.path = fmt::format("/proc/{}/fd/{}", getpid(), pinned.fd.get());
  if (Status same = check_still_runs(process.pid, pinned); !same) return same.error();
  return pinned;
}

Status check_still_runs(pid_t pid, const PinnedExecutable& pinned) {
  auto running = running_file(pid);
  if (!running) return running.error();
  if (running->st_dev == pinned.device && running->st_ino == pinned.inode) return Ok{};
  auto now = current_program(pid);
  return make_error("pid {} exec'd another program ({}) while gotrace attached; nothing was traced (gotrace attach "
                    "{} traces the new program)",
                    pid, now ? *now : "unknown", pid);
}

sigset_t stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  return signals;
}

Status block_stop_signals() {
  sigset_t signals = stop_signals();
  if (sigprocmask(SIG_BLOCK, &signals, nullptr) != 0)
    return make_error("cannot block SIGINT, SIGTERM and SIGHUP: {}", std::strerror(errno));
  return Ok{};
}

void end_by_pending_stop_signal() {
  sigset_t signals = stop_signals();
  timespec now{};
  int signal = sigtimedwait(&signals, nullptr, &now);
  if (signal <= 0) return;
  // Its default action, as if it had never been blocked: the end of gotrace.
  std::signal(signal, SIG_DFL);
  sigset_t just_this;
  sigemptyset(&just_this);
  sigaddset(&just_this, signal);
  raise(signal);
  sigprocmask(SIG_UNBLOCK, &just_this, nullptr);
}

AddressTranslator translator_for(const GoBinary& binary, uint64_t load_bias, const std::string& path) {
  std::vector<MemoryMapping> mappings;
  for (const ElfSegment& segment : binary.elf().load_segments())
    mappings.push_back({segment.vaddr + load_bias, segment.vaddr + segment.memsz + load_bias, segment.offset,
                        segment.executable(), 0, path});
  return AddressTranslator(load_bias, std::move(mappings));
}

TextMapping text_mapping(const GoBinary& binary, uint64_t load_bias) {
  for (const ElfSegment& segment : binary.elf().load_segments())
    if (segment.executable())
      return {segment.vaddr + load_bias, segment.vaddr + segment.memsz + load_bias, segment.offset};
  return {};
}

}  // namespace gotrace
