// The allocation probe: one uprobe program on every allocator entry point of
// one Go process.
//
// It runs on every allocation of the target, so it does O(1) work and no
// policy: read the Go register ABI arguments (Go 1.17+: size in RAX, type in
// RBX), take the direct caller from [RSP], walk the frame-pointer chain for
// the rest, and hand the record to userspace through the ring buffer. Every
// allocation it does not record, and every record it cuts short, is counted
// (gotrace_abi.h, GOTRACE_PROBE_COUNTERS); nothing is dropped silently. It
// never writes to the target's memory.
//
// The probe sits after the function's stack-bound check (userspace chooses
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
const volatile __u64 probe_vaddrs[GOTRACE_MAX_ENTRY_POINTS] = {};
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
// Unread bytes in the ring buffer past which a record wakes the consumer.
// Below it records are committed silently and userspace drains the buffer on
// its own short timer: a wakeup per record costs the target more than the
// rest of this program together.
const volatile __u64 wakeup_bytes = 1 << 22;

// Runtime minus link-time address of the binary, seen at the last hit; read by
// userspace, which needs it to symbolize a PIE program that `gotrace run`
// started and that may exit before its mappings could be read.
__u64 observed_load_bias = 0;

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

// The window of the stack held in scratch_space.stack.
struct window {
  __u64 base;  // user address of stack[0]
  __u64 size;  // bytes valid; 0 when nothing is held
};

// Reads `size` bytes (rounded up to 512, at most STACK_WINDOW_BYTES) of the
// stack from `base`. A window that runs past the top of the stack into
// unmapped memory fails as a whole; the bytes up to the end of base's page
// are then read instead, mapped if base is, so that the frames near the top
// of a stack are walked from one window rather than a window per frame.
static __always_inline struct window read_window(__u64* stack, __u64 base, __u64 size) {
  struct window w = {base, 0};
  size = (size + 511) & ~511ULL;
  if (size < FIRST_WINDOW_MIN) size = FIRST_WINDOW_MIN;
  if (size > STACK_WINDOW_BYTES) size = STACK_WINDOW_BYTES;
  if (bpf_probe_read_user(stack, size, (void*)base) == 0) {
    w.size = size;
    return w;
  }
  __u64 to_page_end = 4096 - (base & 4095);  // 1 to 4096 bytes
  if (to_page_end < size && to_page_end >= 16 && bpf_probe_read_user(stack, to_page_end, (void*)base) == 0)
    w.size = to_page_end;
  else if (bpf_probe_read_user(stack, 16, (void*)base) == 0)
    w.size = 16;
  return w;
}

// The frame record {saved BP, return address} at `fp`, when `w` holds it.
static __always_inline bool frame_in_window(const __u64* stack, struct window w, __u64 fp, __u64 frame[2]) {
  __u64 offset = fp - w.base;  // huge when fp is below base
  if (offset + 16 > w.size || (offset & 7) != 0) return false;
  __u32 word = (__u32)(offset / 8) & (STACK_WINDOW_WORDS - 1);  // bounds for the verifier
  if (word + 1 >= STACK_WINDOW_WORDS) return false;
  frame[0] = stack[word];
  frame[1] = stack[word + 1];
  return true;
}

// The state of one frame-pointer walk. Frame records are {saved BP, return
// address}; the chain ends at BP 0.
struct walk {
  struct scratch_space* scratch;
  struct window window;
  __u64 rsp;
  __u64 fp;      // the next frame record; 0 once the chain has ended
  __u64 extent;  // bytes above RSP the walk reached
  __u32 depth;   // return addresses in scratch->event.pcs
  __u32 windows; // windows read
};

// One frame: takes the record at walk->fp from the window held, keeps its
// return address and moves on to the caller's record. False when it did not
// move: walk->fp is then 0 if the chain has ended, or else a record the
// window does not hold.
static __always_inline bool step_in_window(struct walk* walk) {
  __u64 fp = walk->fp;
  __u64 frame[2];
  if (fp == 0 || !frame_in_window(walk->scratch->stack, walk->window, fp, frame)) return false;
  if (frame[1] == 0) {
    walk->fp = 0;
    return false;
  }
  walk->scratch->event.pcs[walk->depth & 127] = frame[1];  // depth < 127: the mask is for the verifier
  walk->depth++;
  if (fp - walk->rsp + 16 > walk->extent) walk->extent = fp - walk->rsp + 16;
  walk->fp = frame[0] == fp ? 0 : frame[0];
  return true;
}

// The walk past the first window, one frame per bpf_loop step (a loop the
// verifier checks once, whatever the depth), reading the next window where
// the chain leaves the one held.
static long walk_one_frame(__u64 index, struct walk* walk) {
  (void)index;
  if (walk->depth >= GOTRACE_MAX_STACK_DEPTH) return 1;
  if (step_in_window(walk)) return 0;
  if (walk->fp == 0 || walk->windows >= MAX_WINDOWS) return 1;
  walk->window = read_window(walk->scratch->stack, walk->fp, STACK_WINDOW_BYTES);
  walk->windows++;
  if (step_in_window(walk)) return 0;
  walk->fp = 0;  // the record is unreadable, or the chain ends there
  return 1;
}

// Whether a walk that stopped at a frame record was cut short: not when the
// last return address is in goexit, nor when exactly the maximum depth was
// the whole stack.
static __always_inline bool cut_short(const struct walk* walk, __u64 bias) {
  if (walk->fp == 0) return false;
  __u64 root = walk->scratch->event.pcs[(walk->depth - 1) & 127] - bias;
  if (root >= goexit_start && root < goexit_end) return false;
  if (walk->depth < GOTRACE_MAX_STACK_DEPTH) return true;
  __u64 next[2];
  return bpf_probe_read_user(next, sizeof(next), (void*)walk->fp) == 0 && next[1] != 0;
}

// Fills event.pcs from pcs[1] on (pcs[0], the caller, is [RSP]) and returns
// the depth. The frames inside the first window, the usual case, are walked
// inline; the rest by bpf_loop.
static __always_inline __u32 walk_stack(struct scratch_space* scratch, struct window first_window, __u64 rsp,
                                        __u64 rbp, __u64 bias) {
  struct walk walk = {scratch, first_window, rsp, rbp, 16, 1, 1};
  for (__u32 i = 1; i < GOTRACE_MAX_STACK_DEPTH; i++)
    if (!step_in_window(&walk)) break;
  if (walk.fp != 0 && walk.depth < GOTRACE_MAX_STACK_DEPTH) bpf_loop(GOTRACE_MAX_STACK_DEPTH, walk_one_frame, &walk, 0);
  scratch->first_window = walk.extent;
  if (cut_short(&walk, bias)) {
    scratch->event.flags |= GOTRACE_EVENT_TRUNCATED;
    count(GOTRACE_COUNTER_STACK_TRUNCATED);
  }
  return walk.depth;
}

// Reads the first window of the stack, the caller's return address at its
// start; false when even that is unreadable.
static __always_inline bool read_first_window(struct scratch_space* scratch, __u64 rsp, struct window* window,
                                              __u64* caller) {
  *window = read_window(scratch->stack, rsp, scratch->first_window);
  if (window->size == 0) return false;
  *caller = scratch->stack[0];
  return true;
}

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
  if ((pid_tgid >> 32) != target_tgid) return 0;

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
  __u32 zero = 0;
  struct scratch_space* scratch_space = bpf_map_lookup_elem(&scratch, &zero);
  if (!scratch_space) {
    count(GOTRACE_COUNTER_PROBE_STATE);
    return 0;
  }

  __u64 rsp = ctx->rsp;
  struct window window = {rsp, 0};
  __u64 caller = 0;
  if (!read_caller(scratch_space, rsp, entry_point, &window, &caller)) {
    count(GOTRACE_COUNTER_STACK_READ);
    return 0;
  }
  // At a uprobe the reported instruction pointer is the probed address.
  __u64 bias = ctx->rip - probe_vaddrs[entry_point & (GOTRACE_MAX_ENTRY_POINTS - 1)];  // bounds for the verifier
  // Stored only when it changes: a store on every hit would bounce its cache
  // line between CPUs.
  if (observed_load_bias != bias) observed_load_bias = bias;
  if (entry_point != GOTRACE_ENTRY_MALLOCGC && caller - bias >= mallocgc_start && caller - bias < mallocgc_end) {
    count(GOTRACE_COUNTER_NESTED_ALLOCATION);
    return 0;
  }

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
  event->size = size;
  event->type = ctx->rbx;
  event->tid = (__u32)pid_tgid;
  event->entry_point = entry_point;
  event->flags = 0;
  event->pcs[0] = caller;
  event->stack_depth = walk_stack(scratch_space, window, rsp, ctx->rbp, bias);
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
