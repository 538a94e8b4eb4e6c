// The loaded and attached allocation probe (bpf/alloc_probe.bpf.c).
//
// Owns the BPF skeleton, one uprobe link per allocator entry point, the
// exec watcher that marks the target's exec in the same ring buffer, and the
// ring-buffer consumer. Everything is file-descriptor based (perf uprobe
// links), so the kernel removes the probes when gotrace exits, however it
// exits: no probe is ever left behind in the target.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpf/gotrace_abi.h"
#include "base/result.h"
#include "userspace/probe/exec_watch.h"
#include "userspace/probe/heap_profiler_hooks.h"
#include "userspace/probe/probe_counters.h"
#include "userspace/probe/probe_site.h"

struct alloc_probe;  // the bpftool skeleton
struct ring_buffer;
struct bpf_link;

namespace gotrace {

// Which BPF program goes on the probe sites.
enum class ProbeProgram {
  kRecord,  // the allocation probe
  kEmpty,   // returns at once: measures the cost of the trap alone
};

struct ProbeTarget {
  int pid = 0;
  ProbeProgram program = ProbeProgram::kRecord;
  std::string binary_path;        // the file the uprobes go on, e.g. /proc/<pid>/exe
  std::vector<ProbeSite> sites;   // sites[0] must be runtime.mallocgc
  // Whether the allocator entry points are probed: every allocation is
  // recorded (or sampled by gotrace, with sample_rate). False for --heap.
  bool record_entry_points = true;
  // The runtime's heap profiler, probed when given: its samples, and its
  // sampled objects' frees.
  std::optional<HeapProfilerHooks> heap;
  uint64_t mallocgc_start = 0;    // link-time range of runtime.mallocgc
  uint64_t mallocgc_end = 0;
  uint64_t goexit_start = 0;      // link-time range of runtime.goexit, every goroutine's root
  uint64_t goexit_end = 0;
  // A power of two. Its pages are mapped into gotrace twice (the ring's
  // wrap-around), so it counts twice in gotrace's resident memory.
  uint64_t ring_buffer_bytes = 16 << 20;
  uint64_t sample_rate = 0;       // mean bytes between recorded allocations; 0: every one
  bool verbose = false;           // libbpf's messages and the verifier's log go to stderr
  // Execs of pid that start the trace rather than end it: 1 under `run`,
  // whose child is watched before it execs the program.
  uint32_t execs_before_tracing = 0;
};

// The target exec'd: the stream of allocations ended there.
struct ExecSeen {
  std::chrono::steady_clock::time_point time;  // when the kernel ran the exec, or else when gotrace saw it had
  // False when the exec's record found the ring buffer full: gotrace learnt
  // of it later, and allocations of the new image may have been read as the
  // traced one's in between.
  bool exact = true;
};

// What the kernel counted for every allocation, recorded or not.
struct KernelTotals {
  uint64_t allocations = 0;
  uint64_t requested_bytes = 0;
};

// Called for each allocation, from consume(). Only the first
// event.stack_depth entries of event.pcs are valid.
using AllocationHandler = std::function<void(const gotrace_alloc_event& event)>;

class AllocProbe {
 public:
  // Loads the BPF program and attaches it. Nothing stays attached on failure.
  static Result<std::unique_ptr<AllocProbe>> attach(const ProbeTarget& target, AllocationHandler handler);
  ~AllocProbe();
  AllocProbe(const AllocProbe&) = delete;
  AllocProbe& operator=(const AllocProbe&) = delete;

  // An epoll descriptor that becomes readable when the ring buffer is a
  // quarter full. Below that the probe does not wake the consumer, which must
  // call consume() at least every kDrainInterval as well.
  int event_fd() const;
  static constexpr std::chrono::milliseconds kDrainInterval{10};
  // Hands every waiting event to the handler; returns how many there were.
  Result<uint64_t> consume();
  // Every counter of GOTRACE_PROBE_COUNTERS: the kernel's per CPU, summed,
  // and those gotrace keeps itself.
  Result<ProbeCounts> counts() const;
  Result<KernelTotals> kernel_totals() const;
  // The target's first exec since tracing started, once consume() has
  // reached it; from there on consume() hands no event to the handler.
  const std::optional<ExecSeen>& exec_seen() const { return exec_seen_; }
  // The target's load bias as the probe saw it (0 before the first hit, and
  // for a binary that is not position independent).
  uint64_t observed_load_bias() const;

  // Stops recording at the allocator entry points at once (the heap
  // profiler's probes go on), then detaches them, which takes the kernel
  // 70 to 400 ms a probe: for the overhead guard, from a thread of its own.
  void stop_recording_entry_points();
  // The program on the entry points, whose run time the kernel's statistics give.
  int record_program_fd() const;
  void detach_entry_points();

 private:
  AllocProbe() = default;
  Status start_sampling(uint64_t rate);
  Status attach_links(const ProbeTarget& target);
  Status attach_heap_links(const ProbeTarget& target);
  static int on_event(void* context, void* data, size_t size);
  // Whether the record is the exec watcher's; notes the exec if so.
  bool take_exec_record(const void* data, size_t size);

  alloc_probe* skeleton_ = nullptr;
  std::vector<bpf_link*> links_;       // one per allocator entry point
  std::vector<bpf_link*> heap_links_;  // the heap profiler's probes
  std::unique_ptr<ExecWatch> exec_watch_;
  std::optional<ExecSeen> exec_seen_;
  ring_buffer* ring_ = nullptr;
  AllocationHandler handler_;
  uint64_t malformed_records_ = 0;
};

// Why this process cannot load and attach the probe, or nullopt when it
// can: it needs CAP_SYS_ADMIN (root has it), which the kernel requires to
// create a uprobe (Linux 6.18 refuses one with CAP_BPF and CAP_PERFMON
// alone). Read from the effective set, so that a root whose capabilities
// were dropped (a container's) hears what is missing too.
std::optional<std::string> missing_bpf_privileges();

// Why this process cannot trace `pid`, or nullopt when it may: a process of
// another user (as its /proc directory's owner says; a process that is not
// dumpable shows as root's) needs CAP_SYS_PTRACE besides, which the kernel
// requires to read its executable and mappings and to attach to it.
std::optional<std::string> missing_ptrace_privilege(int pid);

}  // namespace gotrace
