// The process watcher (bpf/process_watch.bpf.c), loaded beside the
// allocation probe: it follows the watched processes' forks, and at each of
// their execs writes a record into the probe's own ring buffer, which
// divides the probe's stream exactly between the image that was traced and
// the one that replaced it; a process to follow into its new image it stops
// there. AllocProbe owns it and reads the records.
//
// A stopped process must never stay stopped because gotrace is gone: a
// resumer, a process forked from gotrace that holds the map of stopped
// processes, waits for gotrace's end, however it ends (even SIGKILL), and
// then sends SIGCONT to every process still listed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>

#include "base/fd.h"
#include "base/result.h"

struct process_watch;  // the bpftool skeleton
struct bpf_link;

namespace gotrace {

// Whose execs are reported besides the watched processes': those that may
// start a Go program to trace (attach --all, --cgroup).
struct ExecReports {
  bool unwatched = false;    // besides the watched processes, those below
  uint64_t cgroup_id = 0;    // 0: every process on the host; else those in this cgroup (v2) or below it
  uint32_t cgroup_level = 0; // the cgroup's depth below the root cgroup
};

class ProcessWatch {
 public:
  // Writes into the ring buffer map `ring_fd`. Nothing stays attached on
  // failure.
  static Result<std::unique_ptr<ProcessWatch>> attach(int ring_fd, const ExecReports& reports);
  ~ProcessWatch();
  ProcessWatch(const ProcessWatch&) = delete;
  ProcessWatch& operator=(const ProcessWatch&) = delete;

  // Watches a process (GOTRACE_WATCH_* flags). Before the first process to
  // be stopped is watched, the resumer starts.
  Status watch(int pid, uint32_t flags);
  // Sends SIGCONT to a process stopped at its exec, and forgets it.
  void resume(int pid);
  // Whether an exec of a watched process happened whose record found the
  // ring buffer full.
  bool record_lost() const;
  // How many execs of unwatched processes (ExecReports) found it full.
  uint64_t unreported_execs() const;

 private:
  ProcessWatch() = default;
  Status start_resumer();

  process_watch* skeleton_ = nullptr;
  bpf_link* links_[3] = {};
  Fd resumer_pipe_;  // its write end: the resumer acts when it closes
  pid_t resumer_ = -1;
};

}  // namespace gotrace
