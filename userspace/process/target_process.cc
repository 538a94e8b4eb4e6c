#include "userspace/process/target_process.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

namespace gotrace {

Result<Fd> open_pidfd(pid_t pid) {
  Fd fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (fd.get() < 0) {
    if (errno == ESRCH) return make_error("pid {}: no such process", pid);
    return make_error("pid {}: cannot watch for its exit: {}", pid, std::strerror(errno));
  }
  return fd;
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
