#include "userspace/probe/process_watch.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>

#include "bpf/gotrace_abi.h"
#include "process_watch.skel.h"
#include "userspace/probe/libbpf_error.h"

namespace gotrace {
namespace {

// The resumer's life, in the forked child: only system calls from here on
// (gotrace may have had other threads at the fork). It outlives gotrace:
// stop signals aimed at gotrace's process group are not for it.
[[noreturn]] void run_resumer(int pipe_read, int stopped_map) {
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) ::signal(signal, SIG_IGN);
  // Nothing else of gotrace's is held: its probes go when gotrace does.
  for (int fd = 3, last = int(std::min(sysconf(_SC_OPEN_MAX), 65536L)); fd < last; ++fd)
    if (fd != pipe_read && fd != stopped_map) close(fd);
  char byte;
  for (ssize_t n = 1; n != 0 && !(n < 0 && errno != EINTR);) n = read(pipe_read, &byte, 1);
  __u32 key = 0, next = 0;
  bool first = true;
  while (bpf_map_get_next_key(stopped_map, first ? nullptr : &key, &next) == 0) {
    kill(pid_t(next), SIGCONT);
    key = next;
    first = false;
  }
  _exit(0);
}

}  // namespace

Result<std::unique_ptr<ProcessWatch>> ProcessWatch::attach(int ring_fd, const ExecReports& reports) {
  std::unique_ptr<ProcessWatch> watch(new ProcessWatch());
  watch->skeleton_ = process_watch__open();
  if (watch->skeleton_ == nullptr) return make_error("cannot open the BPF process watcher: {}", errno_text(errno));
  watch->skeleton_->rodata->report_every_exec = reports.unwatched ? 1 : 0;
  watch->skeleton_->rodata->report_cgroup_id = reports.cgroup_id;
  watch->skeleton_->rodata->report_cgroup_level = reports.cgroup_level;
  if (int err = bpf_map__reuse_fd(watch->skeleton_->maps.alloc_events, ring_fd); err != 0)
    return make_error("cannot hand the BPF process watcher the ring buffer: {}", errno_text(err));
  if (int err = process_watch__load(watch->skeleton_); err != 0)
    return make_error("cannot load the BPF process watcher: {}", errno_text(err));
  bpf_program* programs[] = {watch->skeleton_->progs.watch_fork, watch->skeleton_->progs.watch_exec,
                             watch->skeleton_->progs.watch_exit};
  for (size_t i = 0; i < std::size(programs); ++i) {
    watch->links_[i] = bpf_program__attach_trace(programs[i]);
    if (watch->links_[i] == nullptr)
      return make_error("cannot attach the BPF process watcher to the {} tracepoint: {}",
                        bpf_program__section_name(programs[i]), errno_text(errno));
  }
  return watch;
}

Status ProcessWatch::watch(int pid, uint32_t flags) {
  if ((flags & GOTRACE_WATCH_EXEC) && resumer_ < 0)
    if (Status s = start_resumer(); !s) return s;
  __u32 key = uint32_t(pid), value = flags;
  if (int err = bpf_map__update_elem(skeleton_->maps.watched, &key, sizeof(key), &value, sizeof(value), BPF_ANY);
      err != 0)
    return make_error("pid {}: cannot watch the process: {}", pid, errno_text(err));
  return Ok{};
}

void ProcessWatch::resume(int pid) {
  kill(pid, SIGCONT);
  __u32 key = uint32_t(pid);
  (void)bpf_map__delete_elem(skeleton_->maps.stopped, &key, sizeof(key), 0);
}

Status ProcessWatch::start_resumer() {
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0) return make_error("cannot start the resumer: pipe: {}", std::strerror(errno));
  Fd read_end(ends[0]), write_end(ends[1]);
  pid_t pid = fork();
  if (pid < 0) return make_error("cannot start the resumer: fork: {}", std::strerror(errno));
  if (pid == 0) {
    write_end.reset();
    run_resumer(read_end.get(), bpf_map__fd(skeleton_->maps.stopped));
  }
  resumer_ = pid;
  resumer_pipe_ = std::move(write_end);
  return Ok{};
}

bool ProcessWatch::record_lost() const {
  // Written by the BPF program; read through the mmapped .bss.
  return *reinterpret_cast<volatile __u32*>(&skeleton_->bss->exec_record_lost) != 0;
}

uint64_t ProcessWatch::unreported_execs() const {
  return *reinterpret_cast<volatile __u64*>(&skeleton_->bss->unreported_execs);
}

ProcessWatch::~ProcessWatch() {
  for (bpf_link* link : links_)
    if (link != nullptr) (void)bpf_link__destroy(link);
  // Whatever is still stopped runs on: the resumer sees its pipe close.
  resumer_pipe_.reset();
  if (resumer_ > 0) waitpid(resumer_, nullptr, 0);
  if (skeleton_ != nullptr) process_watch__destroy(skeleton_);
}

}  // namespace gotrace
