// The allocation probe: uprobe programs on the allocator of one Go process.
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
const volatile __u32 target_tgid = 0;
// Link-time addresses of each probed instruction, by attach cookie. With the
// runtime address of the probe hit they give the load bias, which is not
// known before a PIE program started by `gotrace run` has been exec'd.
const volatile __u64 probe_vaddrs[GOTRACE_MAX_SITES] = {};
// Link-time range of runtime.mallocgc. A specialized entry point called from
// inside it is the same allocation, already counted at mallocgc.
const volatile __u64 mallocgc_start = 0;
const volatile __u64 mallocgc_end = 0;
// Link-time range of runtime.goexit, the root of every goroutine's stack: a
// walk that reached it has the whole stack, whatever the chain holds beyond.
const volatile __u64 goexit_start = 0;
const volatile __u64 goexit_end = 0;
// Mean bytes between sampled allocations; 0 records every allocation.
const volatile __u64 sample_rate = 0;
// The runtime's heap profiler, for uprobe__heap_sample and uprobe__heap_free:
// the link-time address of runtime.MemProfileRate, and where a special
// record keeps its kind and which kind is a heap-profile record, in this
// release.
const volatile __u64 mem_profile_rate_vaddr = 0;
const volatile __u32 special_kind_offset = 0;
const volatile __u32 special_profile_kind = 0;
// Unread bytes in the ring buffer past which a record wakes the consumer.
// Below it records are committed silently and userspace drains the buffer on
// its own short timer: a wakeup per record costs the target more than the
// rest of this program together.
const volatile __u64 wakeup_bytes = 1 << 22;

// Runtime minus link-time address of the binary, seen at the last hit; read by
// userspace, which needs it to symbolize a PIE program that `gotrace run`
// started and that may exit before its mappings could be read.
__u64 observed_load_bias = 0;

// Whether uprobe__go_allocator records allocations; set by userspace, which
// clears it to stop exact tracing at once when the overhead guard falls back
// to the heap profiler's samples (the uprobes take a while to detach).
__u32 exact_recording = 0;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 24);  // resized by userspace before load
} alloc_events SEC(".maps");

// The KERNEL rows of GOTRACE_PROBE_COUNTERS, by index.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, GOTRACE_KERNEL_COUNTER_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} probe_counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct gotrace_cpu_totals);
} cpu_totals SEC(".maps");

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

static __always_inline void count(enum gotrace_counter counter) {
  __u32 key = counter;
  __u64* value = bpf_map_lookup_elem(&probe_counters, &key);
  if (value) *value += 1;  // per-CPU: no atomics needed
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

// Counts the allocation in the per-CPU totals; whether it is recorded. In
// sampling mode only an allocation that takes the countdown below zero is,
// and the next countdown is drawn.
static __always_inline bool count_and_sample(struct gotrace_cpu_totals* totals, __u64 size) {
  totals->allocations += 1;
  totals->requested_bytes += size;
  if (sample_rate == 0) return true;
  long long left = totals->bytes_until_sample - (long long)size;
  if (left >= 0) {
    totals->bytes_until_sample = left;
    return false;
  }
  __u32 pick = bpf_get_prandom_u32() % GOTRACE_SAMPLE_INTERVALS;
  __u64* interval = bpf_map_lookup_elem(&sample_intervals, &pick);
  totals->bytes_until_sample = interval ? (long long)*interval : (long long)sample_rate;
  return true;
}

// The load bias, from the probed address the uprobe reports as the
// instruction pointer and the link-time address of site `site`.
static __always_inline __u64 load_bias(struct pt_regs* ctx, __u32 site) {
  __u64 bias = ctx->rip - probe_vaddrs[site & (GOTRACE_MAX_SITES - 1)];  // bounds for the verifier
  // Stored only when it changes: a store on every hit would bounce its cache
  // line between CPUs.
  if (observed_load_bias != bias) observed_load_bias = bias;
  return bias;
}

// The scratch space of this CPU; counted when missing.
static __always_inline struct scratch_space* scratch_space_of_cpu(void) {
  __u32 zero = 0;
  struct scratch_space* space = bpf_map_lookup_elem(&scratch, &zero);
  if (!space) count(GOTRACE_COUNTER_PROBE_STATE);
  return space;
}

// The fields of a record before its stack, which is empty until walked.
static __always_inline void set_header(struct gotrace_alloc_event* event, __u64 size, __u64 type, __u64 address,
                                       __u64 rate, __u64 pid_tgid, __u32 site, __u32 flags) {
  event->size = size;
  event->type = type;
  event->address = address;
  event->sample_rate = rate;
  event->tid = (__u32)pid_tgid;
  event->entry_point = site;
  event->flags = flags;
  event->stack_depth = 0;
}

// Copies the record, at its real length, into the ring buffer.
static __always_inline void send_event(struct gotrace_alloc_event* event) {
  __u64 length = GOTRACE_EVENT_HEADER_SIZE + (__u64)(event->stack_depth & 127) * 8;
  if (length > sizeof(*event)) length = sizeof(*event);
  __u64 wakeup = bpf_ringbuf_query(&alloc_events, BPF_RB_AVAIL_DATA) + length >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
                                                                                             : BPF_RB_NO_WAKEUP;
  if (bpf_ringbuf_output(&alloc_events, event, length, wakeup) != 0) count(GOTRACE_COUNTER_RINGBUF_FULL);
}

SEC("uprobe")
int uprobe__go_allocator(struct pt_regs* ctx) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  // Another process can hit the probe too (a child the target forked keeps
  // its breakpoints): its allocations are not the target's, and not counted.
  if ((pid_tgid >> 32) != target_tgid || !exact_recording) return 0;

  __u32 entry_point = (__u32)bpf_get_attach_cookie(ctx);
  if (entry_point >= GOTRACE_MAX_ENTRY_POINTS) {
    count(GOTRACE_COUNTER_ENTRY_POINT_UNKNOWN);
    return 0;
  }
  __u64 size = ctx->rax;
  if (size == 0) {  // mallocgc(0) hands out a shared address; nothing is allocated
    count(GOTRACE_COUNTER_ZERO_SIZE);
    return 0;
  }
  struct scratch_space* scratch_space = scratch_space_of_cpu();
  if (!scratch_space) return 0;

  __u64 rsp = ctx->rsp;
  struct window window = {rsp, 0};
  __u64 caller = 0;
  if (!read_caller(scratch_space, rsp, entry_point, &window, &caller)) {
    count(GOTRACE_COUNTER_STACK_READ);
    return 0;
  }
  __u64 bias = load_bias(ctx, entry_point);
  if (entry_point != GOTRACE_ENTRY_MALLOCGC && caller - bias >= mallocgc_start && caller - bias < mallocgc_end) {
    count(GOTRACE_COUNTER_NESTED_ALLOCATION);
    return 0;
  }

  __u32 zero = 0;
  struct gotrace_cpu_totals* totals = bpf_map_lookup_elem(&cpu_totals, &zero);
  if (!totals) {
    count(GOTRACE_COUNTER_PROBE_STATE);
    return 0;
  }
  if (!count_and_sample(totals, size)) return 0;  // not chosen: counted in the totals, not a loss
  if (sample_rate != 0 && !read_first_window(scratch_space, rsp, &window, &caller)) {
    count(GOTRACE_COUNTER_STACK_READ);
    return 0;
  }

  struct gotrace_alloc_event* event = &scratch_space->event;
  set_header(event, size, ctx->rbx, 0, 0, pid_tgid, entry_point, 0);
  event->pcs[0] = caller;
  event->stack_depth = walk_stack(scratch_space, window, rsp, ctx->rbp, bias);
  send_event(event);
  return 0;
}

// runtime.profilealloc(mp, x, size): RAX = mp, RBX = x, RCX = size, called
// for the allocations the runtime's heap profiler samples, from inside the
// allocator: the allocator's own frames are at the leaf end of the stack,
// and userspace trims them.
SEC("uprobe")
int uprobe__heap_sample(struct pt_regs* ctx) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  if ((pid_tgid >> 32) != target_tgid) return 0;
  struct scratch_space* scratch_space = scratch_space_of_cpu();
  if (!scratch_space) return 0;
  __u64 rsp = ctx->rsp;
  struct window window = {rsp, 0};
  __u64 caller = 0;
  if (!read_first_window(scratch_space, rsp, &window, &caller)) {
    count(GOTRACE_COUNTER_STACK_READ);
    return 0;
  }
  __u64 bias = load_bias(ctx, GOTRACE_SITE_HEAP_SAMPLE);
  // The rate this sample was drawn with: the runtime reads it just before.
  __u64 rate = 0;
  bpf_probe_read_user(&rate, sizeof(rate), (void*)(mem_profile_rate_vaddr + bias));

  struct gotrace_alloc_event* event = &scratch_space->event;
  // Traced exactly, the allocation's record was the last this CPU
  // assembled, on this thread: the allocator allocates nothing else in
  // between (it would throw "malloc deadlock"). Its type is the one the
  // allocator was handed, which profilealloc is not.
  bool type_known = exact_recording && sample_rate == 0 && event->tid == (__u32)pid_tgid &&
                    !(event->flags & (GOTRACE_EVENT_HEAP_SAMPLE | GOTRACE_EVENT_HEAP_FREE | GOTRACE_EVENT_HEAP_CYCLE));
  set_header(event, ctx->rcx, type_known ? event->type : 0, ctx->rbx, rate, pid_tgid, GOTRACE_SITE_HEAP_SAMPLE,
             GOTRACE_EVENT_HEAP_SAMPLE | (type_known ? GOTRACE_EVENT_TYPE_KNOWN : 0));
  if (exact_recording) {
    event->flags |= GOTRACE_EVENT_ALSO_EXACT;
    count(GOTRACE_COUNTER_HEAP_SAMPLE_IN_USE_ONLY);
  }
  event->pcs[0] = caller;
  event->stack_depth = walk_stack(scratch_space, window, rsp, ctx->rbp, bias);
  send_event(event);
  return 0;
}

// runtime.freeSpecial(s *special, p unsafe.Pointer, size uintptr): RAX = s,
// RBX = p, RCX = size, called by the sweeper for each special record of an
// object it frees, and for a finalizer's record of an object it keeps alive
// to run the finalizer. Only a heap-profile record means that a sampled
// object is gone.
SEC("uprobe")
int uprobe__heap_free(struct pt_regs* ctx) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  if ((pid_tgid >> 32) != target_tgid) return 0;
  __u8 kind = 0;
  if (bpf_probe_read_user(&kind, sizeof(kind), (void*)(ctx->rax + special_kind_offset)) != 0) {
    count(GOTRACE_COUNTER_SPECIAL_UNREADABLE);
    return 0;
  }
  if (kind != special_profile_kind) {
    count(GOTRACE_COUNTER_OTHER_SPECIAL_FREED);
    return 0;
  }
  load_bias(ctx, GOTRACE_SITE_HEAP_FREE);
  struct scratch_space* scratch_space = scratch_space_of_cpu();
  if (!scratch_space) return 0;
  struct gotrace_alloc_event* event = &scratch_space->event;
  set_header(event, ctx->rcx, 0, ctx->rbx, 0, pid_tgid, GOTRACE_SITE_HEAP_FREE, GOTRACE_EVENT_HEAP_FREE);
  send_event(event);
  return 0;
}

// runtime.mProf_Flush(), at every collection's mark termination: the heap
// profile's cycles, which tell userspace when a sampled object that has not
// been freed is known to be alive.
SEC("uprobe")
int uprobe__heap_cycle(struct pt_regs* ctx) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  if ((pid_tgid >> 32) != target_tgid) return 0;
  load_bias(ctx, GOTRACE_SITE_HEAP_CYCLE);
  struct scratch_space* scratch_space = scratch_space_of_cpu();
  if (!scratch_space) return 0;
  struct gotrace_alloc_event* event = &scratch_space->event;
  set_header(event, 0, 0, 0, 0, pid_tgid, GOTRACE_SITE_HEAP_CYCLE, GOTRACE_EVENT_HEAP_CYCLE);
  send_event(event);
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
