#include "userspace/commands/trace_command.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "base/fd.h"
#include "symbolizer/process_maps.h"
#include "userspace/probe/probe_plan.h"
#include "userspace/process/child_process.h"
#include "userspace/process/process_scope.h"
#include "userspace/process/target_process.h"
#include "userspace/trace/trace_session.h"

namespace gotrace {
namespace {

bool on_a_terminal() { return isatty(STDIN_FILENO) && isatty(STDOUT_FILENO); }

// What must hold before anything is attached, so that a trace is never
// lost at the end to something that could have been seen at the start.
Status check_common_preconditions(const TraceOptions& options) {
  if (options.live_view == TraceOptions::LiveView::kOn && !on_a_terminal())
    return make_error("--tui: the live view needs a terminal on stdin and stdout");
  if (auto missing = missing_bpf_privileges()) return Error{*missing};
  if (options.files.pprof_path == "-" && isatty(STDOUT_FILENO))
    return make_error("--output '-': standard output is a terminal; a gzipped profile needs a file or a pipe");
  return check_outputs(options.files.named());
}

// Under `run`, standard output is the program's unless --program-output
// sends its output elsewhere: a profile there would be mixed into it.
Status check_run_outputs(const RunOptions& options) {
  if (!options.program_output.empty()) return Ok{};
  for (const OutputPath& output : options.trace.files.named())
    if (output.path == "-")
      return make_error("{} '-': under run, standard output is the program's (--program-output FILE sends the "
                        "program's output elsewhere)",
                        output.flag);
  return Ok{};
}

// The session's result and finish, with the loop's error first: the files
// are written whatever ended the trace.
Status finish_session(TraceSession& session, const Result<SessionResult>& result, std::ostream& table_out) {
  Status finished = session.finish(result ? *result : SessionResult{}, table_out);
  if (!result) return result.error();
  return finished;
}

// The child's stdin and its stdout and stderr under `run`: with the live
// view the terminal is the view's, so the program reads nothing from it and
// writes to --program-output, or nowhere.
Status open_program_io(const RunOptions& options, bool live_view, Fd* input, Fd* output) {
  if (live_view) {
    *input = Fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (input->get() < 0) return make_error("'/dev/null': {}", std::strerror(errno));
  }
  if (live_view || !options.program_output.empty()) {
    std::string path = options.program_output.empty() ? "/dev/null" : options.program_output;
    *output = Fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (output->get() < 0) return make_error("'{}': cannot write: {}", path, std::strerror(errno));
  }
  return Ok{};
}

}  // namespace

Result<SessionScope> discovery_scope(const std::string& cgroup) {
  SessionScope scope;
  scope.discover = true;
  scope.max_processes = kMaxFollowedProcesses;
  if (cgroup.empty()) return scope;
  auto found = find_cgroup(cgroup);
  if (!found) return found.error();
  scope.cgroup = *found;
  return scope;
}

Result<int> run_attach(const AttachOptions& options) {
  if (Status s = block_stop_signals(); !s) return s.error();
  if (Status s = check_common_preconditions(options.trace); !s) return s.error();
  end_by_pending_stop_signal();

  SessionScope scope;
  scope.max_processes = uint32_t(options.pids.size());
  if (options.all || !options.cgroup.empty()) {
    auto discovery = discovery_scope(options.cgroup);
    if (!discovery) return discovery.error();
    scope = *discovery;
  }
  TraceSession session(options.trace, scope);
  if (Status s = session.load(); !s) return s.error();
  for (int pid : options.pids)
    if (Status s = session.attach_running(pid); !s) return s.error();
  if (scope.discover)
    if (Status s = session.attach_scope(); !s) return s.error();
  session.announce();
  if (options.trace.live_view != TraceOptions::LiveView::kOff && on_a_terminal()) session.open_view();
  auto result = session.run(options.duration, -1, [](const signalfd_siginfo&) { return true; });
  if (Status s = finish_session(session, result, std::cout); !s) return s.error();
  return 0;
}

Result<int> run_traced_command(const RunOptions& options) {
  if (Status s = block_stop_signals(); !s) return s.error();
  if (Status s = check_run_outputs(options); !s) return s.error();
  if (Status s = check_common_preconditions(options.trace); !s) return s.error();
  auto path = find_executable(options.command.front());
  if (!path) return path.error();
  // Refused before it starts, unless it is followed: then a command that is
  // not a Go program (a shell, make) is followed to the Go programs it runs.
  std::shared_ptr<const ProbePlan> root_plan;
  auto plan = plan_probes(*path, *path, options.trace.allow_unverified_release);
  if (plan) {
    // The program's heap profiling, as far as it can be known before it runs.
    auto probes = choose_probes(options.trace, *plan, 0, std::nullopt, *path);
    if (!probes && !options.follow) return probes.error();
    root_plan = std::make_shared<const ProbePlan>(std::move(*plan));
  } else if (!options.follow) {
    return plan.error();
  }

  bool live_view = options.trace.live_view == TraceOptions::LiveView::kOn;
  Fd program_input, program_output;
  if (Status s = open_program_io(options, live_view, &program_input, &program_output); !s) return s.error();
  end_by_pending_stop_signal();
  auto child = ChildProcess::start_held(*path, options.command, std::move(program_input), std::move(program_output));
  if (!child) return child.error();

  SessionScope scope;
  scope.follow = options.follow;
  scope.max_processes = options.follow ? kMaxFollowedProcesses : 1;
  TraceSession session(options.trace, scope);
  // Until released, the child is ended with gotrace.
  if (Status s = session.load(); !s) return s.error();
  if (Status s = session.trace_from_exec(child->pid(), root_plan, *path); !s) return s.error();
  if (Status s = child->release(); !s) return s.error();
  // The process watcher stopped the program at its exec: it runs on once probed.
  if (Status s = session.wait_for_first_process(child->pidfd()); !s) {
    child->wait();
    return s.error();
  }
  session.announce();
  if (live_view) session.open_view();
  // A Ctrl-C from the terminal reaches the program too, and tracing goes on
  // until it exits; a signal sent to gotrace alone is passed on to it.
  pid_t pid = child->pid();
  auto result = session.run(std::nullopt, child->pidfd(), [&child](const signalfd_siginfo& info) {
    child->pass_on(info);
    return false;
  });
  // Whatever ended tracing, the terminal is given back before the wait.
  session.close_view();
  if (result && result->user_quit && !result->target_exited) {
    // q ends what `run` started, as Ctrl-C would; the program's status is
    // then gotrace's, as always.
    kill(pid, SIGTERM);
    std::cerr << fmt::format("gotrace: quit from the live view: sent SIGTERM to pid {}\n", pid);
  }
  // After an exec the trace is over but the program is not: the files and
  // the summary come now, and gotrace waits for the program's exit after.
  bool exec_ended = result && result->exec;
  int exit_code = exec_ended ? 0 : child->wait();
  // Under `run`, stdout belongs to the traced program: the table goes to stderr.
  Status finished = finish_session(session, result, std::cerr);
  if (live_view && options.program_output.empty())
    std::cerr << "gotrace: the program's output was discarded while the live view had the terminal "
                 "(--program-output FILE keeps it)\n";
  if (exec_ended) exit_code = child->wait_passing_signals();
  if (!finished) return finished.error();
  return exit_code;
}

}  // namespace gotrace
