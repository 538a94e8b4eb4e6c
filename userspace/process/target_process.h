// The traced process as the event loop sees it: a descriptor that says when
// it exits, the signals that end a trace, and where its binary is mapped.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "base/fd.h"
#include "base/result.h"
#include "symbolizer/go_binary.h"
#include "symbolizer/process_maps.h"

namespace gotrace {

// The process `id` names: `id` itself, or, for a thread of a process, that
// process, said in one line on `note` ("gotrace: 1235 is a thread of process
// 1234; tracing the process", with `doing` the last words).
Result<pid_t> process_of(pid_t id, std::string_view doing, std::ostream& note);

// A pidfd: readable once the process has exited.
Result<Fd> open_pidfd(pid_t pid);

// The program the process runs now, from /proc/<pid>/exe (as the process
// names it, in its own mount namespace); an error with the cause when that
// cannot be read (the process is gone, or it is not ours to look at).
Result<std::string> current_program(pid_t pid);

// The target's executable, held open from planning the probes to attaching
// them, so that the probes go on the very file that was planned: opened
// again by path, it could be another program's if the target exec'd in
// between, with probes at offsets that mean nothing there.
struct PinnedExecutable {
  Fd fd;
  std::string path;  // /proc/<gotrace's pid>/fd/N: opens the pinned file
  dev_t device = 0;
  ino_t inode = 0;
};
Result<PinnedExecutable> pin_executable(const ProcessExecutable& process);
// Whether `pid` still runs the pinned file; an error that says what it runs
// now when it exec'd another.
Status check_still_runs(pid_t pid, const PinnedExecutable& pinned);

// The 8 bytes at `runtime_address` in process `pid`'s memory (a variable of
// its runtime, such as runtime.MemProfileRate: link-time address plus load
// bias), read with process_vm_readv, never written. Fails with the cause
// when the process is gone, not ours to read, or the address unmapped.
Result<uint64_t> read_target_word(int pid, uint64_t runtime_address);

// The signals that end a trace: SIGINT, SIGTERM, SIGHUP. They are blocked
// from the start of `attach` and `run` (so that none cuts a check short and
// leaves what it created), and read through a signalfd while tracing.
sigset_t stop_signals();
Status block_stop_signals();
// Before anything is attached: one of them that came meanwhile ends gotrace
// now, by that signal, as it would have unblocked. Returns if none came.
void end_by_pending_stop_signal();

// The binary's loadable segments where a process loaded it at `load_bias`,
// for symbolizing that process's addresses.
AddressTranslator translator_for(const GoBinary& binary, uint64_t load_bias, const std::string& path);

// The runtime range of the binary's text and its file offset: pprof's mapping.
struct TextMapping {
  uint64_t start = 0;
  uint64_t limit = 0;
  uint64_t file_offset = 0;
};
TextMapping text_mapping(const GoBinary& binary, uint64_t load_bias);

}  // namespace gotrace
