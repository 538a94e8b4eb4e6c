/* The contract between the BPF programs (alloc_probe.bpf.c, the allocation
 * probe, and process_watch.bpf.c, which follows the traced processes' forks
 * and execs and marks them in the probe's stream) and userspace.
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

/* Return addresses recorded per allocation. Deeper stacks are cut at the
 * root end and flagged; the leaf frames, which decide the call site, are kept. */
#define GOTRACE_MAX_STACK_DEPTH 127
/* The stack is read in windows of this many bytes, at most this many per
 * allocation: a chain that runs further is cut there the same way. The
 * words of the STACK_TRUNCATED counter below name both limits. */
#define GOTRACE_STACK_WINDOW_BYTES 4096
#define GOTRACE_MAX_STACK_WINDOWS 16

/* What the probe counts besides allocations, one row each, under a comment
 * that says what it means:
 *   X(name, kind, counted_by, words)
 * kind is DROP for an allocation missing from the results, NOTICE for one
 * counted but incomplete, or deliberately not recorded. words follow the
 * count where it is reported: the summary reports every row, the live view
 * the drops.
 * The kernel keeps a per-CPU counter for each KERNEL row; gotrace counts the
 * USERSPACE rows itself. KERNEL rows come first: a row's index is its key in
 * the probe's counter map. The enum below numbers the rows, and
 * userspace/probe/probe_counters.h turns them into a table. */
#define GOTRACE_PROBE_COUNTERS(X)                                                                               \
  /* no room in the ring buffer for the record: gotrace did not drain it fast enough */                         \
  X(RINGBUF_FULL, DROP, KERNEL, "ring buffer full")                                                             \
  /* the return address at the stack pointer, or the first window of the stack, could not be read */            \
  X(STACK_READ, DROP, KERNEL, "stack unreadable")                                                               \
  /* the stack was deeper than the probe records: the allocation is recorded, its root frames are missing */    \
  X(STACK_TRUNCATED, NOTICE, KERNEL, "stacks cut at the root end (deeper than 127 frames or 64 KiB)")           \
  /* the probe's per-CPU scratch space or totals could not be looked up */                                      \
  X(PROBE_STATE, DROP, KERNEL, "probe state unavailable")                                                       \
  /* the probe's attach cookie is not the index of an entry point userspace gave it */                          \
  X(ENTRY_POINT_UNKNOWN, DROP, KERNEL, "unknown entry point")                                                   \
  /* mallocgc(0) returns one shared address and hands out no memory: not recorded, not in the totals */         \
  X(ZERO_SIZE, TALLY, KERNEL,   "zero-size requests (nothing is allocated)")                                     \
  /* a size-specialized entry point called by mallocgc: the same allocation, recorded at mallocgc only */       \
  X(NESTED_ALLOCATION, TALLY, KERNEL,   "calls from mallocgc on to a size-specialized allocator (counted once)") \
  /* the runtime's heap profiler sampled an allocation while exact recording counted it already (in-use only) */ \
  X(HEAP_SAMPLE_IN_USE_ONLY, TALLY, KERNEL, "heap-profile samples also traced exactly (kept for in-use)")         \
  /* a special record the sweeper freed could not be read: if it was a sampled object's, in-use stays high */   \
  X(SPECIAL_UNREADABLE, NOTICE, KERNEL, "freed special records unreadable (in-use may be high)")                \
  /* a special record other than a heap-profile one was freed (finalizers, weak pointers): not a sampled object */ \
  X(OTHER_SPECIAL_FREED, TALLY, KERNEL, "other special records freed (finalizers, weak pointers)")              \
  /* a ring-buffer record shorter than its header or than the stack it claims: gotrace skipped it */            \
  X(MALFORMED_RECORD, DROP, USERSPACE, "malformed record")

#define GOTRACE_COUNTER_INDEX(name, kind, counted_by, words) GOTRACE_COUNTER_##name,
enum gotrace_counter { GOTRACE_PROBE_COUNTERS(GOTRACE_COUNTER_INDEX) GOTRACE_COUNTER_COUNT };
#undef GOTRACE_COUNTER_INDEX

#define GOTRACE_COUNTED_BY_KERNEL 1
#define GOTRACE_COUNTED_BY_USERSPACE 0
#define GOTRACE_COUNT_IF_KERNEL(name, kind, counted_by, words) +GOTRACE_COUNTED_BY_##counted_by
enum { GOTRACE_KERNEL_COUNTER_COUNT = 0 GOTRACE_PROBE_COUNTERS(GOTRACE_COUNT_IF_KERNEL) };
#undef GOTRACE_COUNT_IF_KERNEL

/* DROP: an allocation missing from the results. NOTICE: an allocation
 * recorded but incomplete (the user should know). TALLY: the probe working
 * as meant, counted for the record (-v shows them). */
enum gotrace_counter_kind { GOTRACE_COUNTER_KIND_DROP, GOTRACE_COUNTER_KIND_NOTICE, GOTRACE_COUNTER_KIND_TALLY };

/* The processes of a trace, each an image of a process (an exec starts a
 * new one), are numbered by userspace from 0: a process's slot. The probe's
 * attach cookies carry it (GOTRACE_COOKIE), so that a hit knows whose it is
 * without a lookup, and the kernel keeps per slot: */

/* per CPU, what was counted for the process: every allocation, sampled or
 * not, and the KERNEL rows of GOTRACE_PROBE_COUNTERS, by index; */
struct gotrace_process_stats {
  gotrace_u64 allocations;     /* calls into the allocator (size > 0), counted once each */
  gotrace_u64 requested_bytes; /* their requested sizes, summed */
  gotrace_u64 counters[GOTRACE_KERNEL_COUNTER_COUNT];
};

/* and what the probe must know of the process's image, as runtime
 * addresses (userspace adds the load bias, known before the probes go in). */
struct gotrace_process_image {
  gotrace_u64 mallocgc_start; /* runtime.mallocgc: a specialized entry point called from inside it is the
                                 same allocation, already counted there */
  gotrace_u64 mallocgc_end;
  gotrace_u64 goexit_start;   /* runtime.goexit, every goroutine's root: a walk that reached it has the
                                 whole stack, whatever the chain holds beyond */
  gotrace_u64 goexit_end;
  gotrace_u64 mem_profile_rate; /* the address of runtime.MemProfileRate, for the heap profiler's probes */
  gotrace_u32 special_kind_offset;  /* where a special record keeps its kind, and which kind is a */
  gotrace_u32 special_profile_kind; /* heap-profile record, in this release */
};

/* An attach cookie: the slot of the process, and the index of the probed
 * site (an allocator entry point, or GOTRACE_SITE_HEAP_*). */
#define GOTRACE_COOKIE(slot, site) (((gotrace_u64)(slot) << 32) | (gotrace_u64)(site))
#define GOTRACE_COOKIE_SLOT(cookie) ((gotrace_u32)((cookie) >> 32))
#define GOTRACE_COOKIE_SITE(cookie) ((gotrace_u32)(cookie))

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

/* One record of the probe's stream, of one of three kinds (flags):
 *  - an allocation, as the allocator was asked for it (Go register ABI),
 *    seen at an allocator entry point (exact and --sample-rate tracing);
 *  - GOTRACE_EVENT_HEAP_SAMPLE: an allocation the runtime's own heap profiler
 *    sampled, seen at runtime.profilealloc: its address and the size the
 *    runtime records, no type (the call sites' code gives it), and the
 *    allocator's own frames still at the leaf end of the stack;
 *  - GOTRACE_EVENT_HEAP_FREE: the sweeper freed an object the heap profiler
 *    had sampled (runtime.freeSpecial of a profile record): its address and
 *    size, no stack.
 * Records are variable-length: only the first stack_depth pcs are sent. */
struct gotrace_alloc_event {
  gotrace_u64 size;        /* bytes requested (RAX); for heap samples and frees the runtime's recorded size */
  gotrace_u64 type;        /* *runtime._type (RBX) as a runtime address; 0 for untyped memory or unknown */
  gotrace_u64 address;     /* heap samples and frees: the object's runtime address */
  gotrace_u64 sample_rate; /* heap samples: runtime.MemProfileRate when the object was sampled */
  gotrace_u32 tid;         /* kernel thread id */
  gotrace_u32 entry_point; /* index of the probed entry point (GOTRACE_ENTRY_MALLOCGC or a specialized one) */
  gotrace_u32 stack_depth; /* valid entries in pcs */
  gotrace_u32 flags;       /* GOTRACE_EVENT_* */
  gotrace_u32 slot;        /* the process's slot */
  gotrace_u32 reserved;    /* zero */
  /* Return addresses, leaf first: pcs[0] is the allocator's caller ([RSP]),
   * the rest come from the frame-pointer chain. Runtime addresses. */
  gotrace_u64 pcs[GOTRACE_MAX_STACK_DEPTH];
};

#define GOTRACE_EVENT_TRUNCATED 1u   /* the stack was deeper than pcs holds */
#define GOTRACE_EVENT_HEAP_SAMPLE 2u /* a sample of the runtime's heap profiler */
#define GOTRACE_EVENT_HEAP_FREE 4u   /* a sampled object freed */
/* A heap sample taken while every allocation was being recorded: already
 * counted as an allocation, it counts for the in-use figures only. */
#define GOTRACE_EVENT_ALSO_EXACT 8u
/* A heap sample whose type field holds the type the allocator entry point
 * was handed: the record of the same allocation this CPU sent just before,
 * on the same thread (exact tracing). */
#define GOTRACE_EVENT_TYPE_KNOWN 16u
/* A collection cycle of the heap profile ended (runtime.mProf_Flush): no
 * address or stack. */
#define GOTRACE_EVENT_HEAP_CYCLE 32u

/* The site indexes of the heap profiler's probes, after the allocator entry
 * points (whose indexes are below GOTRACE_MAX_ENTRY_POINTS). */
#define GOTRACE_SITE_HEAP_SAMPLE GOTRACE_MAX_ENTRY_POINTS
#define GOTRACE_SITE_HEAP_FREE (GOTRACE_MAX_ENTRY_POINTS + 1)
#define GOTRACE_SITE_HEAP_CYCLE (GOTRACE_MAX_ENTRY_POINTS + 2)

#define GOTRACE_EVENT_HEADER_SIZE 56 /* bytes before pcs */
GOTRACE_STATIC_ASSERT(sizeof(struct gotrace_alloc_event) == GOTRACE_EVENT_HEADER_SIZE + 8 * GOTRACE_MAX_STACK_DEPTH,
                      "gotrace_alloc_event layout changed: update both sides");

/* The processes the process watcher (process_watch.bpf.c) watches, by
 * thread-group id, with what it does for each (GOTRACE_WATCH_*): a map
 * userspace fills, and the watcher itself for the children of a process it
 * follows. */
#define GOTRACE_WATCH_EXEC 1u     /* at an exec, stop the process (SIGSTOP) for userspace to probe its new image */
#define GOTRACE_WATCH_CHILDREN 2u /* a child the process forks is watched as it is */
#define GOTRACE_MAX_WATCHED 65536

/* A watched process exec'd (or, when the watcher watches every process, any
 * process did): written by the process watcher into the allocation probe's ring
 * buffer, where every allocation record of the image the process left comes
 * before it and none after. Shorter than any allocation record
 * (GOTRACE_EVENT_HEADER_SIZE and at least one pc), and marked besides. */
#define GOTRACE_EXEC_EVENT_MAGIC 0x676f74726163650aULL /* "gotrace\n" */
struct gotrace_exec_event {
  gotrace_u64 magic;      /* GOTRACE_EXEC_EVENT_MAGIC */
  gotrace_u64 time_ns;    /* when, on CLOCK_MONOTONIC (bpf_ktime_get_ns) */
  gotrace_u32 tgid;       /* the process */
  gotrace_u32 stopped;    /* 1: stopped for userspace (GOTRACE_WATCH_EXEC), which must send it SIGCONT */
};
GOTRACE_STATIC_ASSERT(sizeof(struct gotrace_exec_event) == 24, "gotrace_exec_event layout changed: update both sides");
GOTRACE_STATIC_ASSERT(sizeof(struct gotrace_exec_event) < GOTRACE_EVENT_HEADER_SIZE + 8,
                      "an exec record must be shorter than any allocation record");

#endif /* GOTRACE_BPF_GOTRACE_ABI_H */
