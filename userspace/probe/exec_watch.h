// The exec watcher (bpf/exec_watch.bpf.c), loaded beside the allocation
// probe: at each exec of the target it writes a record into the probe's own
// ring buffer, which divides the probe's stream exactly between the image
// that was traced and the one that replaced it. AllocProbe owns it and reads
// the records; this class only loads, attaches and detaches it.
#pragma once

#include <cstdint>
#include <memory>

#include "base/result.h"

struct exec_watch;  // the bpftool skeleton
struct bpf_link;

namespace gotrace {

class ExecWatch {
 public:
  // Watches `pid` for execs, writing into the ring buffer map `ring_fd`. The
  // first `execs_before_tracing` execs are not reported (`run` attaches
  // before its child execs the program). Nothing stays attached on failure.
  static Result<std::unique_ptr<ExecWatch>> attach(int pid, uint32_t execs_before_tracing, int ring_fd);
  ~ExecWatch();
  ExecWatch(const ExecWatch&) = delete;
  ExecWatch& operator=(const ExecWatch&) = delete;

  // Whether an exec happened whose record found the ring buffer full.
  bool record_lost() const;

 private:
  ExecWatch() = default;
  exec_watch* skeleton_ = nullptr;
  bpf_link* link_ = nullptr;
};

}  // namespace gotrace
