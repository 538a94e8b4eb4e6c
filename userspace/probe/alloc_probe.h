// The loaded and attached allocation probe (bpf/alloc_probe.bpf.c).
//
// Owns the BPF skeleton, loaded once for the whole trace, the attachments
// of each traced process (multi-uprobe links, one for the allocator's entry
// points and one per heap-profiler hook), the process watcher that marks
// the traced processes' execs in the same ring buffer, and the ring-buffer
// consumer. Everything is file-descriptor based, so the kernel removes the
// probes when gotrace exits, however it exits: no probe is ever left behind.
// A multi-uprobe link rather than a perf uprobe per site: the kernel
// detaches a link's uprobes at once, where each perf uprobe takes it about
// 100 ms (40 sites: 4 s against 40 ms).
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
#include "userspace/probe/process_watch.h"
#include "base/fd.h"
#include "userspace/probe/heap_profiler_hooks.h"
#include "userspace/probe/link_attacher.h"
#include "userspace/probe/link_closer.h"
#include "userspace/probe/probe_counters.h"
#include "userspace/probe/probe_site.h"

struct alloc_probe;  // the bpftool skeleton
struct ring_buffer;
struct bpf_link;
struct bpf_program;
struct bpf_map;

namespace gotrace {

// Which BPF program goes on the probe sites.
enum class ProbeProgram {
  kRecord,  // the allocation probe
  kEmpty,   // returns at once: measures the cost of the trap alone
};

// What the whole trace loads once, whatever processes it comes to probe.
struct ProbeConfig {
  ProbeProgram program = ProbeProgram::kRecord;
  // How many processes (images: an exec starts a new one) the trace can
  // probe, from slot 0 on; the kernel keeps counters for each.
  uint32_t max_processes = 1;
  // Whether allocator entry points record allocations (else only the heap
  // profiler's probes do): false for --heap.
  bool record_entry_points = true;
  // A power of two. Its pages are mapped into gotrace twice (the ring's
  // wrap-around), so it counts twice in gotrace's resident memory.
  uint64_t ring_buffer_bytes = 16 << 20;
  uint64_t sample_rate = 0;       // mean bytes between recorded allocations; 0: every one
  ExecReports exec_reports;       // whose execs are reported besides the watched processes'
  bool verbose = false;           // libbpf's messages and the verifier's log go to stderr
};

// One process's image to probe, in slot `slot`.
struct ProcessProbe {
  int pid = 0;
  uint32_t slot = 0;
  std::string binary_path;        // the file the uprobes go on, e.g. /proc/<pid>/exe
  std::vector<ProbeSite> sites;   // sites[0] must be runtime.mallocgc
  bool record_entry_points = true;  // the allocator entry points are probed
  // The runtime's heap profiler, probed when given: its samples, and its
  // sampled objects' frees.
  std::optional<HeapProfilerHooks> heap;
  gotrace_process_image image{};  // runtime addresses, for the probe
};

// A watched process exec'd (process_watch.h): the stream of allocations of
// the image it left ended there.
struct ExecSeen {
  int pid = 0;
  std::chrono::steady_clock::time_point time;  // when the kernel ran the exec, or else when gotrace saw it had
  // Stopped before its first instruction, for userspace to probe: it runs
  // on once resumed (AllocProbe::resume).
  bool stopped = false;
  // False when the exec's record found the ring buffer full: gotrace learnt
  // of it later, and allocations of the new image may have been read as the
  // old one's in between.
  bool exact = true;
};

// What the kernel counted for every allocation of a process, recorded or not.
struct KernelTotals {
  uint64_t allocations = 0;
  uint64_t requested_bytes = 0;
};

// Called for each allocation, from consume(). Only the first
// event.stack_depth entries of event.pcs are valid.
using AllocationHandler = std::function<void(const gotrace_alloc_event& event)>;
// Called for each exec of a watched process, from consume(), in order with
// the allocations: after it, none of the image the process left.
using ExecHandler = std::function<void(const ExecSeen& exec)>;

class AllocProbe {
 public:
  // Loads the BPF programs and the process watcher. Nothing is attached to
  // any process yet.
  static Result<std::unique_ptr<AllocProbe>> load(const ProbeConfig& config, AllocationHandler on_allocation,
                                                  ExecHandler on_exec);
  ~AllocProbe();
  AllocProbe(const AllocProbe&) = delete;
  AllocProbe& operator=(const AllocProbe&) = delete;

  // Probes a process's image: one attachment of the allocator's entry points
  // and one per heap-profiler hook, each for this process alone, so that no
  // other process running the same binary ever hits them. Nothing stays
  // attached on failure.
  Status add_process(const ProcessProbe& process);
  // Detaches the probes of a process's image (one that exited or exec'd),
  // on a thread of their own: the kernel takes a while.
  void remove_process(uint32_t slot);
  // Watches a process's forks and execs (GOTRACE_WATCH_* flags; 0: its
  // execs alone, which end its image).
  Status watch(int pid, uint32_t flags);
  // Lets a process stopped at its exec run on.
  void resume(int pid);
  // How many execs of unwatched processes (ProbeConfig::exec_reports) went
  // unreported, the ring buffer full: a change says to look for new
  // processes another way.
  uint64_t unreported_execs() const { return watch_->unreported_execs(); }

  // An epoll descriptor that becomes readable when the ring buffer is a
  // quarter full. Below that the probe does not wake the consumer, which must
  // call consume() at least every kDrainInterval as well.
  int event_fd() const;
  static constexpr std::chrono::milliseconds kDrainInterval{10};
  // Hands the waiting events to the handlers, up to kMaxRecordsPerConsume
  // of them; returns how many there were.
  Result<uint64_t> consume();
  // Ends the trace: from here no probe records anything, and what the ring
  // buffer holds is handed over (bounded all the same). A drain while the
  // probes recorded would never end when the traced programs allocate
  // faster than gotrace reads (a loaded host, many flat-out processes).
  Result<uint64_t> end_recording_and_drain();
  // Every counter of GOTRACE_PROBE_COUNTERS of a process: the kernel's per
  // CPU, summed, and those gotrace keeps itself.
  Result<ProbeCounts> counts(uint32_t slot) const;
  Result<KernelTotals> kernel_totals(uint32_t slot) const;
  // What the probe counted without knowing whose it was, and gotrace's own
  // counts of records it could not read.
  Result<ProbeCounts> unattributed_counts() const;

  // Stops recording at the allocator entry points at once (the heap
  // profiler's probes go on); detach_entry_points() then hands their links
  // to the closer's thread: for the overhead guard.
  void stop_recording_entry_points();
  // The program on the entry points, whose run time the kernel's statistics give.
  int record_program_fd() const;
  void detach_entry_points();

 private:
  struct Attached {
    int pid = 0;
    Fd entry_points;                 // the link of the allocator's entry points
    std::vector<Fd> heap;            // the heap profiler's, one a hook
    bool ended = false;              // exec'd: its later records are another image's
  };
  AllocProbe() = default;
  Status start_sampling(uint64_t rate);
  Status reset_stats(uint32_t slot);
  void detach(Attached& attached);
  Result<Fd> attach_sites(bpf_program* program, const ProcessProbe& process,
                           const std::vector<std::pair<uint64_t, uint32_t>>& offsets_and_sites);
  static int on_event(void* context, void* data, size_t size);
  // Whether the record is the process watcher's; hands it on if so.
  bool take_exec_record(const void* data, size_t size);
  template <typename Value>
  Result<std::vector<Value>> per_cpu(bpf_map* map, uint32_t key) const;

  alloc_probe* skeleton_ = nullptr;
  ProbeConfig config_;
  std::vector<Attached> processes_;  // by slot
  std::unique_ptr<LinkAttacher> attacher_;
  LinkCloser closer_;
  std::unique_ptr<ProcessWatch> watch_;
  ring_buffer* ring_ = nullptr;
  AllocationHandler on_allocation_;
  ExecHandler on_exec_;
  uint64_t malformed_records_ = 0;
  bool exec_record_lost_ = false;
  // Records taken by the consume() under way, and the most one takes: the
  // event loop must come back to its signals, timer and processes.
  uint64_t consumed_now_ = 0;
  static constexpr uint64_t kMaxRecordsPerConsume = uint64_t(1) << 16;
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
