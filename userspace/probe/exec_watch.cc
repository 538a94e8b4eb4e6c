#include "userspace/probe/exec_watch.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "exec_watch.skel.h"
#include "userspace/probe/libbpf_error.h"

namespace gotrace {

Result<std::unique_ptr<ExecWatch>> ExecWatch::attach(int pid, uint32_t execs_before_tracing, int ring_fd) {
  std::unique_ptr<ExecWatch> watch(new ExecWatch());
  watch->skeleton_ = exec_watch__open();
  if (watch->skeleton_ == nullptr) return make_error("cannot open the BPF exec watcher: {}", errno_text(errno));
  watch->skeleton_->rodata->target_tgid = pid;
  watch->skeleton_->rodata->execs_before_tracing = execs_before_tracing;
  if (int err = bpf_map__reuse_fd(watch->skeleton_->maps.alloc_events, ring_fd); err != 0)
    return make_error("cannot hand the BPF exec watcher the ring buffer: {}", errno_text(err));
  if (int err = exec_watch__load(watch->skeleton_); err != 0)
    return make_error("cannot load the BPF exec watcher: {}", errno_text(err));
  watch->link_ = bpf_program__attach_raw_tracepoint(watch->skeleton_->progs.watch_exec, "sched_process_exec");
  if (watch->link_ == nullptr)
    return make_error("cannot attach the BPF exec watcher to the sched_process_exec tracepoint: {}",
                      errno_text(errno));
  return watch;
}

ExecWatch::~ExecWatch() {
  if (link_ != nullptr) (void)bpf_link__destroy(link_);
  if (skeleton_ != nullptr) exec_watch__destroy(skeleton_);
}

bool ExecWatch::record_lost() const {
  // Written by the BPF program; read through the mmapped .bss.
  return *reinterpret_cast<volatile __u32*>(&skeleton_->bss->exec_record_lost) != 0;
}

}  // namespace gotrace
