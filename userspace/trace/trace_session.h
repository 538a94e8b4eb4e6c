// One trace, from attaching the probes to the written files: the event
// loop that drains the probe into the aggregator, answers the live view's
// snapshot requests, and stops at a signal, the deadline, the target's exec
// or its exit. `attach` and `run` differ only in how the target came to be.
#pragma once

#include <sys/signalfd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>

#include "base/result.h"
#include "userspace/export/pprof_writer.h"
#include "userspace/probe/alloc_probe.h"
#include "userspace/probe/probe_plan.h"
#include "userspace/profile/aggregator.h"
#include "userspace/trace/heap_samples.h"
#include "userspace/trace/overhead_guard.h"
#include "userspace/trace/trace_mode.h"
#include "userspace/trace/trace_options.h"
#include "userspace/trace/trace_summary.h"
#include "userspace/tui/terminal_view.h"
#include "userspace/tui/trace_snapshot.h"

namespace gotrace {

struct SessionResult {
  bool target_exited = false;
  bool user_quit = false;  // q in the live view
  // The target exec'd: the trace ended there, live view or not.
  std::optional<TargetExec> exec;
};

// How the target came to be traced: `attach` found it running; `run` started
// it, and watches it from before it execs the program.
enum class TargetOrigin { kAttached, kStarted };

class TraceSession {
 public:
  TraceSession(ProbePlan plan, int pid, std::string display_path, const TraceOptions& options);
  ~TraceSession();

  // Loads and attaches the probes to the file at `attach_path`.
  Status attach(const std::string& attach_path, TargetOrigin origin);
  // The target's load bias, once known from its mappings (attach), or else
  // as the probe saw it (a program `run` started may be gone by the end).
  void set_load_bias(uint64_t bias) { known_bias_ = bias; }
  const GoBinary& binary() const { return *plan_.binary; }
  // The line on stderr that says the probes are live.
  void announce() const;

  // Opens the live view. A terminal that cannot be driven is not worth
  // stopping for: tracing goes on without the view, and stderr says why.
  void open_view();
  // Gives the terminal back; the summary is printed after this.
  void close_view();

  // Consumes events until a signal, the deadline, the target's exec, or its
  // exit.
  // `on_signal` decides what a signal means; returning true stops tracing.
  using SignalPolicy = std::function<bool(const signalfd_siginfo&)>;
  Result<SessionResult> run(std::optional<std::chrono::nanoseconds> duration, int pidfd,
                            const SignalPolicy& on_signal);

  // Detaches, symbolizes, writes the outputs (the table to `table_out`) and
  // the summary. Runs even when the trace was cut short, so nothing that was
  // seen is lost.
  Status finish(const SessionResult& result, std::ostream& table_out);

 private:
  class EventLoop;
  uint64_t load_bias() const;
  PprofMetadata pprof_metadata() const;
  // Hands the view what it asked for; the view symbolizes and draws on its own thread.
  void publish_snapshot(bool final);
  // The exec the probe saw, for the summary; the trace's end is set to it.
  TargetExec note_exec(const ExecSeen& seen);
  // An event from the probe into the aggregator; heap samples shaped first.
  void take_event(const gotrace_alloc_event& event);
  // Starts the overhead guard, for attach's default mode.
  Status start_guard();
  // The guard found exact tracing over budget: the heap profiler's samples
  // take over, or, where it is off, tracing stops. True when it stops.
  bool fall_back(const OverheadReading& reading);
  // How allocations are seen now, for the live view's header.
  std::string mode_note() const;
  // The pprof comments: how allocations were seen.
  std::vector<std::string> mode_comments() const;

  ProbePlan plan_;
  int pid_;
  std::string display_path_;
  TraceOptions options_;
  std::unique_ptr<StackAggregator> aggregator_;
  ModeProbes probes_;
  std::unique_ptr<HeapSampleShaper> shaper_;
  gotrace_alloc_event shaped_{};  // a heap sample being shaped
  uint64_t heap_samples_ = 0;
  uint64_t heap_rate_ = 0;  // MemProfileRate of the last heap sample
  std::unique_ptr<OverheadGuard> guard_;
  std::optional<GuardOutcome> guard_outcome_;
  std::unique_ptr<AllocProbe> probe_;
  std::thread detacher_;  // detaches the entry points after a fall-back; joined before probe_ goes
  // The view refers to the exchange: it is declared after, to go first.
  std::unique_ptr<SnapshotExchange> exchange_;
  std::unique_ptr<TerminalView> view_;
  std::optional<uint64_t> known_bias_;
  TargetOrigin origin_ = TargetOrigin::kAttached;
  std::chrono::steady_clock::time_point start_, end_;
  std::chrono::system_clock::time_point start_wall_;
};

}  // namespace gotrace
