/* The contract between the BPF probe (alloc_probe.bpf.c) and userspace.
 *
 * This is the only header both sides include. It compiles as BPF C and as
 * C++, holds plain data only, and every name carries a GOTRACE_ prefix so it
 * cannot collide with system headers. Sizes are asserted on both sides.
 */
#ifndef GOTRACE_BPF_GOTRACE_ABI_H
#define GOTRACE_BPF_GOTRACE_ABI_H

#ifdef __cplusplus
#include <cstdint>
typedef uint64_t gotrace_u64;
typedef uint32_t gotrace_u32;
#define GOTRACE_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
typedef unsigned long long gotrace_u64;
typedef unsigned int gotrace_u32;
#define GOTRACE_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#define GOTRACE_ABI_VERSION 1

/* Return addresses recorded per allocation. Deeper stacks are cut at the
 * root end and flagged; the leaf frames, which decide the call site, are kept. */
#define GOTRACE_MAX_STACK_DEPTH 127
/* The stack is read in windows of this many bytes, at most this many per
 * allocation: a chain that runs further is cut there the same way. */
#define GOTRACE_STACK_WINDOW_BYTES 4096
#define GOTRACE_MAX_STACK_WINDOWS 16

/* Why an allocation was not delivered to userspace, or arrived incomplete.
 * One per-CPU counter each, summed and reported by userspace. */
enum gotrace_loss {
  GOTRACE_LOSS_RINGBUF_FULL = 0,    /* no room in the ring buffer: event dropped */
  GOTRACE_LOSS_STACK_READ = 1,      /* reading the return address at [RSP] failed: event dropped */
  GOTRACE_LOSS_STACK_TRUNCATED = 2, /* not a loss: the stack was deeper than the probe records, root frames cut */
  GOTRACE_LOSS_PROBE_STATE = 3,     /* the probe's per-CPU state could not be looked up: event dropped */
  GOTRACE_LOSS_COUNT = 4,
};

/* Per-CPU counters kept for every allocation, sampled or not. */
struct gotrace_cpu_totals {
  gotrace_u64 allocations;     /* calls into the allocator (size > 0), counted once each */
  gotrace_u64 requested_bytes; /* their requested sizes, summed */
  long long bytes_until_sample; /* sampling countdown (bytes); unused when exact */
};

/* Entries of the table of exponentially distributed sampling intervals that
 * userspace fills for --sample-rate (quantiles of the distribution). */
#define GOTRACE_SAMPLE_INTERVALS 4096

/* Allocator entry points probed at most; each probe's attach cookie is its
 * index. Index 0 is always runtime.mallocgc. Go 1.26 with sizespecializedmalloc
 * has 66 size-specialized functions besides mallocgc (the Go compiler calls 39
 * of them). A power of two: the probe masks indexes with it for the verifier. */
#define GOTRACE_MAX_ENTRY_POINTS 128
GOTRACE_STATIC_ASSERT((GOTRACE_MAX_ENTRY_POINTS & (GOTRACE_MAX_ENTRY_POINTS - 1)) == 0,
                      "GOTRACE_MAX_ENTRY_POINTS must be a power of two");
#define GOTRACE_ENTRY_MALLOCGC 0

/* One allocation, as the allocator was asked for it (Go register ABI).
 * Records are variable-length: only the first stack_depth pcs are sent. */
struct gotrace_alloc_event {
  gotrace_u64 size;        /* bytes requested (RAX) */
  gotrace_u64 type;        /* *runtime._type (RBX) as a runtime address; 0 for untyped memory */
  gotrace_u32 tid;         /* kernel thread id */
  gotrace_u32 entry_point; /* index of the probed entry point (GOTRACE_ENTRY_MALLOCGC or a specialized one) */
  gotrace_u32 stack_depth; /* valid entries in pcs */
  gotrace_u32 flags;       /* GOTRACE_EVENT_* */
  /* Return addresses, leaf first: pcs[0] is the allocator's caller ([RSP]),
   * the rest come from the frame-pointer chain. Runtime addresses. */
  gotrace_u64 pcs[GOTRACE_MAX_STACK_DEPTH];
};

#define GOTRACE_EVENT_TRUNCATED 1u /* the stack was deeper than pcs holds */

#define GOTRACE_EVENT_HEADER_SIZE 32 /* bytes before pcs */
GOTRACE_STATIC_ASSERT(sizeof(struct gotrace_alloc_event) == GOTRACE_EVENT_HEADER_SIZE + 8 * GOTRACE_MAX_STACK_DEPTH,
                      "gotrace_alloc_event layout changed: update both sides");

#endif /* GOTRACE_BPF_GOTRACE_ABI_H */
