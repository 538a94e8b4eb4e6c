// One traced process image (a process between two execs) within a trace:
// its binary's plan, shared with every other process of the same binary,
// its load bias, what the mode probes in it, the aggregation of its events,
// and how its trace ended. The session (trace_session.h) owns one per slot.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/fd.h"
#include "bpf/gotrace_abi.h"
#include "userspace/export/pprof_writer.h"
#include "userspace/probe/alloc_probe.h"
#include "userspace/probe/probe_plan.h"
#include "userspace/profile/aggregator.h"
#include "userspace/trace/heap_samples.h"
#include "userspace/trace/trace_mode.h"
#include "userspace/trace/trace_options.h"
#include "userspace/trace/trace_summary.h"

namespace gotrace {

// Who a traced process is, as the outputs name it.
struct ProcessIdentity {
  int pid = 0;
  std::string path;       // its executable, as the process sees it
  std::string name;       // the executable's base name
  std::string container;  // its cgroup, "" in the root cgroup or unknown
};

class ProcessTrace {
 public:
  ProcessTrace(uint32_t slot, ProcessIdentity identity, std::shared_ptr<const ProbePlan> plan, uint64_t bias,
               ModeProbes probes, const TraceOptions& options);

  uint32_t slot() const { return slot_; }
  const ProcessIdentity& identity() const { return identity_; }
  int pid() const { return identity_.pid; }
  const ProbePlan& plan() const { return *plan_; }
  // The plan, for what must keep its binary alive (the live view's symbolizer).
  const std::shared_ptr<const ProbePlan>& shared_plan() const { return plan_; }
  uint64_t bias() const { return bias_; }
  const ModeProbes& probes() const { return probes_; }
  // What to attach for it.
  ProcessProbe probe_request(const std::string& attach_path) const;

  // An event of this process from the probe; heap samples shaped first.
  void take_event(const gotrace_alloc_event& event);
  StackAggregator& aggregator() { return *aggregator_; }
  // Gives the stacks' memory back once the process ended and its last
  // figures are the agent's: a host's processes come and go for as long as
  // the agent runs. Nothing asks for its aggregator after this.
  void forget_stacks();
  bool has_stacks() const { return aggregator_ != nullptr; }
  uint64_t heap_rate() const { return heap_rate_; }

  // Its trace ended: the process exited, or exec'd (a new image replaced it).
  void end_by_exit(std::chrono::steady_clock::time_point at);
  void end_by_exec(const TargetExec& exec, std::chrono::steady_clock::time_point at);
  // No longer traced, though it runs on: tracing cost it too much.
  void end_by_guard(std::chrono::steady_clock::time_point at);
  bool ended() const { return ended_.has_value(); }
  std::chrono::steady_clock::time_point start() const { return start_; }
  void set_start(std::chrono::steady_clock::time_point at) { start_ = at; }
  // Readable once the process has exited; -1 when not watched.
  int pidfd() const { return pidfd_.get(); }
  void set_pidfd(Fd pidfd) { pidfd_ = std::move(pidfd); }

  // Whether the program has turned its heap profiling off since it was
  // probed (its runtime.MemProfileRate, read from its memory, is 0): noted
  // the first time, for the summary. Does nothing where the heap profiler
  // is not probed, or once the process is gone.
  void check_heap_profiling(std::chrono::steady_clock::time_point now);

  // The summary's figures of this process (duration, ending, totals, heap),
  // to which the session adds the probe's counts and the guard.
  TraceSummary summary(std::chrono::steady_clock::time_point trace_end, const TraceOptions& options) const;
  // Symbolizes the process's stacks into a profile, giving the aggregator's
  // memory back as it goes: the last thing done with it.
  Profile build_profile();
  // What makes a profile of some of its stacks, on any thread, for as long
  // as it is kept (it holds the binary's plan): the agent's interval profiles.
  std::function<Profile(const std::vector<RawStack>&, const AllocationTotals&)> profile_maker() const;

  // What tracing costs the process, as a fraction of its CPU time, as last
  // measured (trace/process_cost.h); negative until then.
  double overhead() const { return overhead_; }
  void set_overhead(double overhead) { overhead_ = overhead; }

 private:
  uint32_t slot_;
  ProcessIdentity identity_;
  std::shared_ptr<const ProbePlan> plan_;
  uint64_t bias_;
  ModeProbes probes_;
  std::unique_ptr<StackAggregator> aggregator_;
  std::unique_ptr<HeapSampleShaper> shaper_;
  gotrace_alloc_event shaped_{};  // a heap sample being shaped
  uint64_t heap_samples_ = 0;
  uint64_t heap_rate_ = 0;  // MemProfileRate of the last heap sample
  bool heap_mode_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::nanoseconds peak_at_{0};  // when the end of the aggregator's peak cycle was read, into the trace
  std::optional<std::chrono::nanoseconds> heap_turned_off_at_;  // into the trace
  std::optional<std::chrono::steady_clock::time_point> ended_;
  bool exited_ = false;
  std::optional<TargetExec> exec_;
  Fd pidfd_;
  double overhead_ = -1;
};

}  // namespace gotrace
