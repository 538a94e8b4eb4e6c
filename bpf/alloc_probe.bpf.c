// The allocation probe: uprobe programs on the allocator of the traced Go
// processes, loaded once and attached to each process.
//
// uprobe__go_allocator goes on every allocator entry point and runs on every
// allocation of the target, so it does O(1) work and no policy: read the Go
// register ABI arguments (Go 1.17+: size in RAX, type in RBX), take the
// direct caller from [RSP], walk the frame-pointer chain for the rest, and
// hand the record to userspace through the ring buffer. uprobe__heap_sample
// and uprobe__heap_free go on the runtime's own heap profiler instead
// (runtime.profilealloc, for the allocations it samples, and
// runtime.freeSpecial, for the sampled objects the sweeper frees), which runs
// once per MemProfileRate bytes: the near-free mode. Every allocation they do
// not record, and every record cut short, is counted (gotrace_abi.h,
// GOTRACE_PROBE_COUNTERS); nothing is dropped silently. They never write to
// the target's memory.
//
// Each probe sits after the function's stack-bound check (userspace chooses
// the address), where RSP points at the return address and RBP still holds
// the caller's frame pointer.
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpf/gotrace_abi.h"

// Set by userspace before load; constants to the verifier.
// Mean bytes between sampled allocations; 0 records every allocation.
const volatile __u64 sample_rate = 0;
// Unread bytes in the ring buffer past which a record wakes the consumer.
// Below it records are committed silently and userspace drains the buffer on
// its own short timer: a wakeup per record costs the target more than the
// rest of this program together.
const volatile __u64 wakeup_bytes = 1 << 22;

// Whether uprobe__go_allocator records allocations; set by userspace, which
// clears it to stop exact tracing at once when the overhead guard falls back
// to the heap profiler's samples (the uprobes take a while to detach).
__u32 exact_recording = 0;

// Set by userspace when the trace ends, before it drains the ring buffer:
// from then on no probe records or counts anything, so that the drain ends
// with what was in the buffer, however fast the traced programs allocate
// (their uprobes stay attached until gotrace detaches them).
__u32 trace_ended = 0;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 24);  // resized by userspace before load
} alloc_events SEC(".maps");

// Each process's counters, by slot (gotrace_abi.h). Userspace sizes both
// maps to the trace's processes before load.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct gotrace_process_stats);
} process_stats SEC(".maps");

// Each process's image, by slot: written by userspace before it attaches
// the process's probes.
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct gotrace_process_image);
} process_images SEC(".maps");

// What a probe that cannot tell its process counts, per CPU: the KERNEL
// rows of GOTRACE_PROBE_COUNTERS (in practice PROBE_STATE alone).
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, GOTRACE_KERNEL_COUNTER_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} unattributed_counters SEC(".maps");

// The sampling countdown (bytes), per CPU, across processes: a byte of any
// of them is as likely to be sampled.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, long long);
} bytes_until_sample SEC(".maps");

// Quantiles of the exponential distribution with mean sample_rate, filled by
// userspace: a uniformly chosen entry is an exponentially distributed
// interval, as Go's own heap profiler draws them (runtime.nextSample).
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, GOTRACE_SAMPLE_INTERVALS);
  __type(key, __u32);
  __type(value, __u64);
} sample_intervals SEC(".maps");

// The stack is read in windows rather than frame by frame: every read of
// user memory has a fixed cost that dwarfs copying a few KiB, and Go frames
// are contiguous. The first window starts at RSP and is as long as the last
// walk on this CPU needed (allocation sites repeat, so it is usually right,
// and copying bytes past the stack's top is wasted work); when the chain
// leaves a window, the next one is read from the frame it reached.
#define STACK_WINDOW_BYTES GOTRACE_STACK_WINDOW_BYTES
#define STACK_WINDOW_WORDS (STACK_WINDOW_BYTES / 8)
#define FIRST_WINDOW_MIN 512
#define MAX_WINDOWS GOTRACE_MAX_STACK_WINDOWS

// Where a record is assembled before it is copied, at its real length, into
// the ring buffer (most Go stacks are far shallower than the maximum), and
// the window of the stack it is read from.
struct scratch_space {
  struct gotrace_alloc_event event;
  __u64 stack[STACK_WINDOW_WORDS];
  __u64 first_window;  // bytes the last walk on this CPU used from RSP
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct scratch_space);
} scratch SEC(".maps");

// A probe hit: whose it is and what the probe knows of it.
struct hit {
  __u32 slot;
  __u32 site;
  struct gotrace_process_stats* stats;        // this CPU's
  const struct gotrace_process_image* image;
};

static __always_inline void count_unattributed(enum gotrace_counter counter) {
  __u32 key = counter;
  __u64* value = bpf_map_lookup_elem(&unattributed_counters, &key);
  if (value) *value += 1;  // per-CPU: no atomics needed
}

static __always_inline void count(struct hit* hit, enum gotrace_counter counter) {
  hit->stats->counters[counter] += 1;  // a constant index; per-CPU: no atomics needed
}

// The process and site of a hit, from its attach cookie; false when the
// probe's state cannot be had (counted).
static __always_inline bool identify(struct pt_regs* ctx, struct hit* hit) {
  if (trace_ended) return false;
  __u64 cookie = bpf_get_attach_cookie(ctx);
  hit->slot = GOTRACE_COOKIE_SLOT(cookie);
  hit->site = GOTRACE_COOKIE_SITE(cookie);
  hit->stats = bpf_map_lookup_elem(&process_stats, &hit->slot);
  hit->image = bpf_map_lookup_elem(&process_images, &hit->slot);
  if (hit->stats && hit->image) return true;
  count_unattributed(GOTRACE_COUNTER_PROBE_STATE);
  return false;
}

#include "bpf/stack_walk.h"

// The caller, at [RSP], comes with the first window of the stack; in
// sampling mode that is read only once an allocation is chosen, and before
// that only a specialized entry point needs its caller. False when it is
// needed and unreadable.
static __always_inline bool read_caller(struct scratch_space* scratch, __u64 rsp, __u32 entry_point,
                                        struct window* window, __u64* caller) {
  if (sample_rate == 0) return read_first_window(scratch, rsp, window, caller);
  if (entry_point == GOTRACE_ENTRY_MALLOCGC) return true;
  return bpf_probe_read_user(caller, sizeof(*caller), (void*)rsp) == 0;
}

// Counts the allocation in the process's totals; whether it is recorded. In
// sampling mode only an allocation that takes the countdown below zero is,
// and the next countdown is drawn.
static __always_inline bool count_and_sample(struct hit* hit, __u64 size) {
  hit->stats->allocations += 1;
  hit->stats->requested_bytes += size;
  if (sample_rate == 0) return true;
  __u32 zero = 0;
  long long* until = bpf_map_lookup_elem(&bytes_until_sample, &zero);
  if (!until) return false;
  long long left = *until - (long long)size;
  if (left >= 0) {
    *until = left;
    return false;
  }
  __u32 pick = bpf_get_prandom_u32() % GOTRACE_SAMPLE_INTERVALS;
  __u64* interval = bpf_map_lookup_elem(&sample_intervals, &pick);
  *until = interval ? (long long)*interval : (long long)sample_rate;
  return true;
}

// The scratch space of this CPU; counted when missing.
static __always_inline struct scratch_space* scratch_space_of_cpu(struct hit* hit) {
  __u32 zero = 0;
  struct scratch_space* space = bpf_map_lookup_elem(&scratch, &zero);
  if (!space) count(hit, GOTRACE_COUNTER_PROBE_STATE);
  return space;
}

// The fields of a record before its stack, which is empty until walked.
static __always_inline void set_header(struct gotrace_alloc_event* event, __u64 size, __u64 type, __u64 address,
                                       __u64 rate, __u64 pid_tgid, const struct hit* hit, __u32 flags) {
  event->size = size;
  event->type = type;
  event->address = address;
  event->sample_rate = rate;
  event->tid = (__u32)pid_tgid;
  event->entry_point = hit->site;
  event->flags = flags;
  event->stack_depth = 0;
  event->slot = hit->slot;
  event->reserved = 0;
}

// Copies the record, at its real length, into the ring buffer.
static __always_inline void send_event(struct hit* hit, struct gotrace_alloc_event* event) {
  __u64 length = GOTRACE_EVENT_HEADER_SIZE + (__u64)(event->stack_depth & 127) * 8;
  if (length > sizeof(*event)) length = sizeof(*event);
  __u64 wakeup = bpf_ringbuf_query(&alloc_events, BPF_RB_AVAIL_DATA) + length >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
                                                                                             : BPF_RB_NO_WAKEUP;
  if (bpf_ringbuf_output(&alloc_events, event, length, wakeup) != 0) count(hit, GOTRACE_COUNTER_RINGBUF_FULL);
}

// The probes go on the traced processes alone (each attachment names its
// process), so every hit is one of theirs, and its cookie says whose.
SEC("uprobe")
int uprobe__go_allocator(struct pt_regs* ctx) {
  if (!exact_recording) return 0;
  struct hit hit;
  if (!identify(ctx, &hit)) return 0;
  if (hit.site >= GOTRACE_MAX_ENTRY_POINTS) {
    count(&hit, GOTRACE_COUNTER_ENTRY_POINT_UNKNOWN);
    return 0;
  }
  __u64 size = ctx->rax;
  if (size == 0) {  // mallocgc(0) hands out a shared address; nothing is allocated
    count(&hit, GOTRACE_COUNTER_ZERO_SIZE);
    return 0;
  }
  struct scratch_space* scratch_space = scratch_space_of_cpu(&hit);
  if (!scratch_space) return 0;

  __u64 rsp = ctx->rsp;
  struct window window = {rsp, 0};
  __u64 caller = 0;
  if (!read_caller(scratch_space, rsp, hit.site, &window, &caller)) {
    count(&hit, GOTRACE_COUNTER_STACK_READ);
    return 0;
  }
  if (hit.site != GOTRACE_ENTRY_MALLOCGC && caller >= hit.image->mallocgc_start && caller < hit.image->mallocgc_end) {
    count(&hit, GOTRACE_COUNTER_NESTED_ALLOCATION);
    return 0;
  }
  if (!count_and_sample(&hit, size)) return 0;  // not chosen: counted in the totals, not a loss
  if (sample_rate != 0 && !read_first_window(scratch_space, rsp, &window, &caller)) {
    count(&hit, GOTRACE_COUNTER_STACK_READ);
    return 0;
  }

  struct gotrace_alloc_event* event = &scratch_space->event;
  set_header(event, size, ctx->rbx, 0, 0, bpf_get_current_pid_tgid(), &hit, 0);
  event->pcs[0] = caller;
  event->stack_depth = walk_stack(&hit, scratch_space, window, rsp, ctx->rbp);
  send_event(&hit, event);
  return 0;
}

// runtime.profilealloc(mp, x, size): RAX = mp, RBX = x, RCX = size, called
// for the allocations the runtime's heap profiler samples, from inside the
// allocator: the allocator's own frames are at the leaf end of the stack,
// and userspace trims them.
SEC("uprobe")
int uprobe__heap_sample(struct pt_regs* ctx) {
  struct hit hit;
  if (!identify(ctx, &hit)) return 0;
  struct scratch_space* scratch_space = scratch_space_of_cpu(&hit);
  if (!scratch_space) return 0;
  __u64 rsp = ctx->rsp;
  struct window window = {rsp, 0};
  __u64 caller = 0;
  if (!read_first_window(scratch_space, rsp, &window, &caller)) {
    count(&hit, GOTRACE_COUNTER_STACK_READ);
    return 0;
  }
  // The rate this sample was drawn with: the runtime reads it just before.
  __u64 rate = 0;
  bpf_probe_read_user(&rate, sizeof(rate), (void*)hit.image->mem_profile_rate);

  __u64 pid_tgid = bpf_get_current_pid_tgid();
  struct gotrace_alloc_event* event = &scratch_space->event;
  // Traced exactly, the allocation's record was the last this CPU
  // assembled, on this thread: the allocator allocates nothing else in
  // between (it would throw "malloc deadlock"). Its type is the one the
  // allocator was handed, which profilealloc is not.
  bool type_known = exact_recording && sample_rate == 0 && event->tid == (__u32)pid_tgid &&
                    event->slot == hit.slot &&
                    !(event->flags & (GOTRACE_EVENT_HEAP_SAMPLE | GOTRACE_EVENT_HEAP_FREE | GOTRACE_EVENT_HEAP_CYCLE));
  set_header(event, ctx->rcx, type_known ? event->type : 0, ctx->rbx, rate, pid_tgid, &hit,
             GOTRACE_EVENT_HEAP_SAMPLE | (type_known ? GOTRACE_EVENT_TYPE_KNOWN : 0));
  if (exact_recording) {
    event->flags |= GOTRACE_EVENT_ALSO_EXACT;
    count(&hit, GOTRACE_COUNTER_HEAP_SAMPLE_IN_USE_ONLY);
  }
  event->pcs[0] = caller;
  event->stack_depth = walk_stack(&hit, scratch_space, window, rsp, ctx->rbp);
  send_event(&hit, event);
  return 0;
}

// runtime.freeSpecial(s *special, p unsafe.Pointer, size uintptr): RAX = s,
// RBX = p, RCX = size, called by the sweeper for each special record of an
// object it frees, and for a finalizer's record of an object it keeps alive
// to run the finalizer. Only a heap-profile record means that a sampled
// object is gone.
SEC("uprobe")
int uprobe__heap_free(struct pt_regs* ctx) {
  struct hit hit;
  if (!identify(ctx, &hit)) return 0;
  __u8 kind = 0;
  if (bpf_probe_read_user(&kind, sizeof(kind), (void*)(ctx->rax + hit.image->special_kind_offset)) != 0) {
    count(&hit, GOTRACE_COUNTER_SPECIAL_UNREADABLE);
    return 0;
  }
  if (kind != hit.image->special_profile_kind) {
    count(&hit, GOTRACE_COUNTER_OTHER_SPECIAL_FREED);
    return 0;
  }
  struct scratch_space* scratch_space = scratch_space_of_cpu(&hit);
  if (!scratch_space) return 0;
  struct gotrace_alloc_event* event = &scratch_space->event;
  set_header(event, ctx->rcx, 0, ctx->rbx, 0, bpf_get_current_pid_tgid(), &hit, GOTRACE_EVENT_HEAP_FREE);
  send_event(&hit, event);
  return 0;
}

// runtime.mProf_Flush(), at every collection's mark termination: the heap
// profile's cycles, which tell userspace when a sampled object that has not
// been freed is known to be alive.
SEC("uprobe")
int uprobe__heap_cycle(struct pt_regs* ctx) {
  struct hit hit;
  if (!identify(ctx, &hit)) return 0;
  struct scratch_space* scratch_space = scratch_space_of_cpu(&hit);
  if (!scratch_space) return 0;
  struct gotrace_alloc_event* event = &scratch_space->event;
  set_header(event, 0, 0, 0, 0, bpf_get_current_pid_tgid(), &hit, GOTRACE_EVENT_HEAP_CYCLE);
  send_event(&hit, event);
  return 0;
}

// The same probe site with nothing to do: what the trap alone costs, the
// floor the overhead benchmark measures the real program against.
SEC("uprobe")
int uprobe__empty(struct pt_regs* ctx) {
  (void)ctx;
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
