#include "userspace/process/target_process.h"

#include <sys/syscall.h>
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

Result<std::string> current_program(pid_t pid) {
  std::string link = fmt::format("/proc/{}/exe", pid);
  char target[4096];
  ssize_t n = readlink(link.c_str(), target, sizeof(target));
  if (n < 0) return make_error("{}: {}", link, std::strerror(errno));
  if (size_t(n) == sizeof(target)) return make_error("{}: the path is too long", link);
  return std::string(target, size_t(n));
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
