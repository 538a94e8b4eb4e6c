// The exec watcher: tells gotrace when the traced process execs.
//
// After an exec the allocation probe's uprobes may keep firing (a program
// that re-execs its own binary gets them back, at a new load bias when it is
// position independent), and addresses of two images cannot be symbolized
// against one. This program runs at the sched_process_exec tracepoint, once
// per exec of any process, and for the target alone writes a small record
// into the allocation probe's own ring buffer (userspace hands it the same
// map). The ring buffer keeps records in the order they were reserved, and
// by the time this tracepoint fires the kernel has ended every other thread
// of the old image while the exec'ing thread is still in the kernel, so the
// record divides the stream exactly: every allocation of the traced image
// before it, none after. It wakes the consumer at once.
//
// A raw tracepoint, attached by name: it needs neither tracefs nor the
// kernel's BTF, and does not depend on the binary's inode changing (a
// re-exec of the same file is noticed too). The allocation probe is left as
// it is; this program is not on its path.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpf/gotrace_abi.h"

// Set by userspace before load.
const volatile __u32 target_tgid = 0;
// Execs of the target that are not news: `gotrace run` loads this before its
// child execs the program to trace, and that first exec starts the trace.
const volatile __u32 execs_before_tracing = 0;

// Execs of the target seen so far. A plain increment: the
// kernel lets one exec of a process through at a time (the other threads are
// gone by this tracepoint), so no two runs of this program race for it.
__u32 execs_seen = 0;
// Set when the record of an exec found no room in the ring buffer.
__u32 exec_record_lost = 0;

// The allocation probe's ring buffer: userspace replaces this definition
// with that map (bpf_map__reuse_fd) before load.
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} alloc_events SEC(".maps");

SEC("raw_tp/sched_process_exec")
int watch_exec(void* ctx) {
  (void)ctx;
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  if ((pid_tgid >> 32) != target_tgid) return 0;
  if (++execs_seen <= execs_before_tracing) return 0;
  struct gotrace_exec_event event = {GOTRACE_EXEC_EVENT_MAGIC, bpf_ktime_get_ns()};
  // A full ring buffer loses this record: userspace then learns of the exec
  // from this flag at its next drain, and ends the trace there.
  if (bpf_ringbuf_output(&alloc_events, &event, sizeof(event), BPF_RB_FORCE_WAKEUP) != 0) exec_record_lost = 1;
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
