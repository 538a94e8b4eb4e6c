// One trace, from loading the probe to the written files: the event loop
// that drains the probe into each traced process's aggregation, takes the
// processes a followed program starts, answers the live view's snapshot
// requests, and stops at a signal, the deadline, or when what it traces is
// gone. `attach` and `run` differ only in how the first processes came to
// be traced.
#pragma once

#include <sys/signalfd.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/result.h"
#include "userspace/probe/alloc_probe.h"
#include "userspace/probe/probe_plan.h"
#include "userspace/process/process_scope.h"
#include "userspace/trace/overhead_guard.h"
#include "userspace/trace/process_cost.h"
#include "userspace/trace/process_trace.h"
#include "userspace/trace/trace_options.h"
#include "userspace/trace/trace_summary.h"
#include "userspace/tui/terminal_view.h"
#include "userspace/tui/trace_snapshot.h"

namespace gotrace {

struct SessionResult {
  bool target_exited = false;  // `run`: the program exited; `attach`: every traced process is gone
  bool user_quit = false;      // q in the live view
  // The one process traced exec'd, which ended the trace.
  std::optional<TargetExec> exec;
};

// Which processes a trace takes besides those it is given.
struct SessionScope {
  // `run --follow`: every process the program starts, directly or further
  // down, and the new image of each exec, each from its first instruction.
  bool follow = false;
  // `attach --all`, `--cgroup`: every Go process on the host, or in
  // `cgroup` and below it, both those running at the start and those that
  // start while tracing, each attached as soon as it is seen (never
  // stopped: it is not the trace's to hold up). The trace then ends only at
  // a signal, the deadline, or the view's q.
  bool discover = false;
  std::optional<Cgroup> cgroup;
  // The processes the trace can hold, each image counted.
  uint32_t max_processes = 1;
};

class TraceSession {
 public:
  TraceSession(const TraceOptions& options, SessionScope scope);
  ~TraceSession();

  // Loads the probe and the process watcher; nothing is attached yet.
  Status load();
  // Traces a running process (`attach`). The process is checked and
  // planned first; the error names it.
  Status attach_running(pid_t pid);
  // Traces every Go process of the scope (SessionScope::discover) that runs
  // now; one that cannot be traced is noted, once a program, and left alone.
  Status attach_scope();
  // Traces the child `run` started, from its exec of the planned program
  // (with --follow, the plan may be missing: the command is not a Go
  // program): the process watcher stops it there, before its first
  // instruction, and the event loop probes it (release the child after this).
  Status trace_from_exec(pid_t pid, std::shared_ptr<const ProbePlan> plan, const std::string& path);
  // Waits until the child `run` released is traced (or failed to be).
  Status wait_for_first_process(int pidfd);
  // The line on stderr that says the probes are live.
  void announce() const;

  // Opens the live view. A terminal that cannot be driven is not worth
  // stopping for: tracing goes on without the view, and stderr says why.
  void open_view();
  // Hands snapshots to a reader of the session's own, as to the live view
  // (the agent, which turns them into interval profiles): the reader asks,
  // and the event loop answers at its next turn. Null when no eventfd can
  // be had. Not with the live view.
  SnapshotExchange* open_feed();
  // After run(): the feed's last snapshot, every process's final figures.
  void publish_last();
  // Gives the terminal back; the summary is printed after this.
  void close_view();

  // Consumes events until a signal, the deadline, or the end of what is
  // traced: under `run` the program's exit (`root_pidfd`), under `attach`
  // the exit or exec of every process. `on_signal` decides what a signal
  // means; returning true stops tracing.
  using SignalPolicy = std::function<bool(const signalfd_siginfo&)>;
  Result<SessionResult> run(std::optional<std::chrono::nanoseconds> duration, int root_pidfd,
                            const SignalPolicy& on_signal);

  // Detaches, symbolizes, writes the outputs (the table to `table_out`) and
  // the summary. Runs even when the trace was cut short, so nothing that was
  // seen is lost.
  Status finish(const SessionResult& result, std::ostream& table_out);

 private:
  class EventLoop;
  // The plan of the binary `open_path` is, shared by every process of it;
  // a binary that cannot be traced is planned once too.
  Result<std::shared_ptr<const ProbePlan>> plan_for(const std::string& open_path, const std::string& path);
  // Traces process `pid`, whose binary is planned, from now on.
  Status start_process(pid_t pid, ProcessIdentity identity, std::shared_ptr<const ProbePlan> plan, uint64_t bias,
                       std::optional<uint64_t> running_bias, const std::string& attach_path);
  // A process stopped at its exec: probed if it can be, with a note on
  // stderr if not; resumed either way.
  Status take_stopped(pid_t pid);
  // A process of the scope that may be a Go program: attached if it is
  // one, else left alone (with a note when it is Go but cannot be traced).
  void attach_found(pid_t pid);
  void on_exec(const ExecSeen& exec);
  void on_allocation(const gotrace_alloc_event& event);
  // The processes' exits the loop saw; true when nothing traced is left.
  bool take_exits(std::span<const uint64_t> ready_slots);
  bool all_ended() const;
  // Notes the processes that turned their heap profiling off (ProcessTrace).
  void check_heap_profiling();
  std::chrono::steady_clock::time_point last_heap_check_{};
  // The agent's guard (TraceOptions::guard_each_process): each process's
  // cost read about once a second; one over max_overhead is no longer
  // traced, with a line on stderr.
  void check_costs();
  void meter_cost(const ProcessTrace& process);
  std::unique_ptr<ProcessCostMeter> cost_meter_;
  bool cost_meter_failed_ = false;
  std::set<pid_t> guarded_out_;  // processes the guard stopped tracing
  // Starts the overhead guard, for attach's default mode.
  Status start_guard();
  // The guard found exact tracing over budget: the heap profiler's samples
  // take over, or, where it is off, tracing stops. True when it stops.
  bool fall_back(const OverheadReading& reading);
  ProcessTrace* primary() const { return processes_.empty() ? nullptr : processes_.front().get(); }
  // Hands the view what it asked for; the view symbolizes and draws on its own thread.
  void publish_snapshot(bool final);
  // How allocations are seen now, for the live view's header.
  std::string mode_note() const;
  // The pprof comments: how allocations were seen.
  std::vector<std::string> mode_comments() const;
  PprofMetadata pprof_metadata() const;
  // A line on stderr for a process that runs on untraced, the first of its program.
  void note_not_traced(pid_t pid, const std::string& path, const std::string& why);
  std::set<std::string> not_traced_programs_;

  TraceOptions options_;
  SessionScope scope_;
  std::unique_ptr<AllocProbe> probe_;
  std::vector<std::unique_ptr<ProcessTrace>> processes_;  // by slot
  // Plans by binary (device and inode), or why the binary cannot be traced.
  std::map<std::pair<dev_t, ino_t>, Result<std::shared_ptr<const ProbePlan>>> plans_;
  // `run`: the program's pid, and whether its first exec is still to come.
  pid_t root_pid_ = 0;
  std::string root_path_;
  bool root_exec_pending_ = false;
  std::vector<pid_t> stopped_;  // execs seen, waiting to be probed
  std::vector<pid_t> found_;    // execs seen in the scope of --all or --cgroup, waiting to be attached
  uint64_t unreported_execs_ = 0;  // of the scope's execs, those the probe had no room to report, as last seen
  std::optional<Error> root_failed_;
  bool entry_points_ = true;     // what the mode probes, as decided for the first process
  bool heap_probed_ = false;
  std::unique_ptr<OverheadGuard> guard_;
  std::optional<GuardOutcome> guard_outcome_;
  // The view refers to the exchange: it is declared after, to go first.
  std::unique_ptr<SnapshotExchange> exchange_;
  std::unique_ptr<TerminalView> view_;
  std::optional<TargetExec> ending_exec_;  // the exec that ended the trace
  std::chrono::steady_clock::time_point start_, end_;
  std::chrono::system_clock::time_point start_wall_;
};

}  // namespace gotrace
