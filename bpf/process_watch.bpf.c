// The process watcher: follows the traced processes' forks and execs.
//
// An exec ends an image: after it the allocation probe's uprobes may keep
// firing (a program that re-execs its own binary gets them back, at a new
// load bias when it is position independent), and addresses of two images
// cannot be symbolized against one. At every exec of a watched process this
// writes a small record into the allocation probe's own ring buffer
// (userspace hands it the same map). The ring buffer keeps records in the
// order they were reserved, and by the time the exec tracepoint fires the
// kernel has ended every other thread of the old image while the exec'ing
// thread is still in the kernel, so the record divides the stream exactly:
// every allocation of the old image before it, none after. A watched
// process's record wakes the consumer at once.
//
// To trace a new image from its first instruction (`gotrace run`, and the
// children of a followed process), the watcher stops the process there with
// SIGSTOP, before it returns to user mode; userspace probes the new image
// and sends SIGCONT. The stopped processes are listed in a map as well, so
// that whatever happens to gotrace, none is left stopped (the resumer,
// userspace/probe/process_watch.h). It never stops a process nobody asked
// to follow.
//
// BTF-typed tracepoints: they need the kernel's BTF, not tracefs. The
// allocation probe is left as it is; these programs are not on its path.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <stdbool.h>

#include "bpf/gotrace_abi.h"

#define SIGCONT 18
#define SIGSTOP 19

// The fields read of the kernel's structures, found by name in its BTF.
typedef struct {
  int counter;
} atomic_t;
struct signal_struct {
  atomic_t live;  // the process's threads that have not exited
} __attribute__((preserve_access_index));
struct task_struct {
  int pid;
  int tgid;
  struct signal_struct* signal;
} __attribute__((preserve_access_index));

// Whether the execs of processes nobody watches are reported too (attach
// --all, --cgroup): a new process of any program may be a Go program to
// trace, attached once it runs (never stopped: it is not ours to hold up).
// With a cgroup id, only those of processes in that cgroup or below it, the
// cgroup being `report_cgroup_level` levels below the root. Set by
// userspace before load.
const volatile __u32 report_every_exec = 0;
const volatile __u64 report_cgroup_id = 0;
const volatile __u32 report_cgroup_level = 0;

// Set when the record of a watched process's exec found no room in the
// ring buffer.
__u32 exec_record_lost = 0;
// The execs of processes nobody watches (reported for --all, --cgroup)
// whose records found no room: userspace looks for the programs they
// started in its own way.
__u64 unreported_execs = 0;

// The watched processes: thread-group id to GOTRACE_WATCH_* flags.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, GOTRACE_MAX_WATCHED);
  __type(key, __u32);
  __type(value, __u32);
} watched SEC(".maps");

// The processes stopped at an exec and not resumed yet, by thread-group id.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, __u32);
} stopped SEC(".maps");

// The allocation probe's ring buffer: userspace replaces this definition
// with that map (bpf_map__reuse_fd) before load.
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} alloc_events SEC(".maps");

// Whether an exec of a process nobody watches is reported.
static bool reported_unwatched(void) {
  if (!report_every_exec) return false;
  if (report_cgroup_id == 0) return true;
  return bpf_get_current_ancestor_cgroup_id(report_cgroup_level) == report_cgroup_id;
}

// The tracepoints' arguments, as BTF-typed pointers in ctx.
SEC("tp_btf/sched_process_fork")
int watch_fork(unsigned long long* ctx) {
  struct task_struct* parent = (struct task_struct*)ctx[0];
  struct task_struct* child = (struct task_struct*)ctx[1];
  if (child->tgid == parent->tgid) return 0;  // a thread, not a process
  __u32 parent_tgid = parent->tgid;
  __u32* flags = bpf_map_lookup_elem(&watched, &parent_tgid);
  if (!flags || !(*flags & GOTRACE_WATCH_CHILDREN)) return 0;
  __u32 child_tgid = child->tgid, inherited = *flags;
  bpf_map_update_elem(&watched, &child_tgid, &inherited, BPF_ANY);
  return 0;
}

SEC("tp_btf/sched_process_exec")
int watch_exec(unsigned long long* ctx) {
  (void)ctx;
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  __u32* flags = bpf_map_lookup_elem(&watched, &tgid);
  if (!flags && !reported_unwatched()) return 0;
  bool stop = flags && (*flags & GOTRACE_WATCH_EXEC);
  // Stopped before the record goes out: userspace may read the record and
  // send SIGCONT before this program returns, and a SIGCONT cancels a stop
  // pending, where a stop sent after it would stand for good.
  __u32 one = 1;
  if (stop && bpf_map_update_elem(&stopped, &tgid, &one, BPF_ANY) != 0) stop = false;  // none stopped unlisted
  if (stop) bpf_send_signal(SIGSTOP);
  struct gotrace_exec_event event = {GOTRACE_EXEC_EVENT_MAGIC, bpf_ktime_get_ns(), tgid, stop ? 1 : 0};
  // A full ring buffer loses this record: userspace then learns of the exec
  // from this flag at its next drain, and the process runs on unstopped.
  // A watched process's record wakes userspace at once (it may be stopped,
  // waiting); another's waits for the next drain, a few ms away, rather
  // than have every exec on a busy host wake gotrace.
  __u64 wakeup = flags ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
  if (bpf_ringbuf_output(&alloc_events, &event, sizeof(event), wakeup) != 0) {
    if (!flags) {
      __sync_fetch_and_add(&unreported_execs, 1);
      return 0;
    }
    exec_record_lost = 1;
    if (stop) {
      bpf_send_signal(SIGCONT);
      bpf_map_delete_elem(&stopped, &tgid);
    }
  }
  return 0;
}

SEC("tp_btf/sched_process_exit")
int watch_exit(unsigned long long* ctx) {
  struct task_struct* task = (struct task_struct*)ctx[0];
  // The last thread: not the leader, which an exec from another thread
  // ends while the process goes on.
  if (task->signal->live.counter != 0) return 0;
  __u32 tgid = task->tgid;
  bpf_map_delete_elem(&watched, &tgid);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
