// The frame-pointer walk of a Go stack, for the programs of
// alloc_probe.bpf.c, which includes this after defining what it uses: the
// per-CPU scratch_space (the record and a window of the stack), and the
// probe hit (struct hit: the process's counters, for count(), and its
// image, for runtime.goexit's range).
//
// At a probe after a function's stack-bound check [RSP] is the return
// address into the caller, and RBP the caller's frame pointer; Go keeps a
// well-formed chain of {saved BP, return address} records from there.
#ifndef GOTRACE_BPF_STACK_WALK_H
#define GOTRACE_BPF_STACK_WALK_H

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
static __always_inline bool cut_short(const struct hit* hit, const struct walk* walk) {
  if (walk->fp == 0) return false;
  __u64 root = walk->scratch->event.pcs[(walk->depth - 1) & 127];
  if (root >= hit->image->goexit_start && root < hit->image->goexit_end) return false;
  if (walk->depth < GOTRACE_MAX_STACK_DEPTH) return true;
  __u64 next[2];
  return bpf_probe_read_user(next, sizeof(next), (void*)walk->fp) == 0 && next[1] != 0;
}

// Fills event.pcs from pcs[1] on (pcs[0], the caller, is [RSP]) and returns
// the depth. The frames inside the first window, the usual case, are walked
// inline; the rest by bpf_loop.
static __always_inline __u32 walk_stack(struct hit* hit, struct scratch_space* scratch, struct window first_window,
                                        __u64 rsp, __u64 rbp) {
  struct walk walk = {scratch, first_window, rsp, rbp, 16, 1, 1};
  for (__u32 i = 1; i < GOTRACE_MAX_STACK_DEPTH; i++)
    if (!step_in_window(&walk)) break;
  if (walk.fp != 0 && walk.depth < GOTRACE_MAX_STACK_DEPTH) bpf_loop(GOTRACE_MAX_STACK_DEPTH, walk_one_frame, &walk, 0);
  scratch->first_window = walk.extent;
  if (cut_short(hit, &walk)) {
    scratch->event.flags |= GOTRACE_EVENT_TRUNCATED;
    count(hit, GOTRACE_COUNTER_STACK_TRUNCATED);
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

#endif /* GOTRACE_BPF_STACK_WALK_H */
