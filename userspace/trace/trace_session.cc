#include "userspace/trace/trace_session.h"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <vector>
#include <span>

#include "base/text_format.h"
#include "userspace/export/trace_outputs.h"
#include "userspace/process/target_process.h"
#include "userspace/profile/profile_combiner.h"
#include "userspace/trace/trace_summary.h"

namespace gotrace {

// The descriptors the session waits on, each with what it means.
class TraceSession::EventLoop {
 public:
  // What a ready descriptor means; a process's exit is kProcessExit plus its slot.
  enum Source : uint64_t { kEvents, kSignal, kTimer, kTarget, kQuit, kProcessExit = uint64_t(1) << 32 };
  static constexpr int kMaxSources = 32;

  static Result<EventLoop> open(std::optional<std::chrono::nanoseconds> duration) {
    EventLoop loop;
    sigset_t signals = stop_signals();
    loop.signal_fd_ = Fd(signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
    if (loop.signal_fd_.get() < 0) return make_error("cannot read signals: signalfd: {}", std::strerror(errno));
    loop.epoll_ = Fd(epoll_create1(EPOLL_CLOEXEC));
    if (loop.epoll_.get() < 0) return make_error("cannot wait for events: epoll_create1: {}", std::strerror(errno));
    if (Status s = loop.watch(loop.signal_fd_.get(), kSignal); !s) return s.error();
    if (duration) {
      loop.timer_fd_ = Fd(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
      if (loop.timer_fd_.get() < 0) return make_error("cannot time the trace: timerfd: {}", std::strerror(errno));
      itimerspec spec{};
      spec.it_value.tv_sec = duration->count() / 1000000000;
      spec.it_value.tv_nsec = duration->count() % 1000000000;
      if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
      if (timerfd_settime(loop.timer_fd_.get(), 0, &spec, nullptr) != 0)
        return make_error("cannot time the trace: timerfd_settime: {}", std::strerror(errno));
      if (Status s = loop.watch(loop.timer_fd_.get(), kTimer); !s) return s.error();
    }
    return loop;
  }

  // `fd` < 0 is nothing to watch.
  Status watch(int fd, uint64_t source) {
    if (fd < 0) return Ok{};
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = source;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0)
      return make_error("cannot wait for events: epoll_ctl: {}", std::strerror(errno));
    return Ok{};
  }
  // Once the target is gone these stay readable; the view's keys still count.
  void forget(int fd) {
    if (fd >= 0) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  }
  int timer_fd() const { return timer_fd_.get(); }

  // The sources ready within `timeout_ms` (-1: no limit). Called every
  // drain interval: it allocates nothing.
  Result<std::span<const uint64_t>> wait(int timeout_ms) {
    epoll_event events[kMaxSources];
    int n = epoll_wait(epoll_.get(), events, kMaxSources, timeout_ms);
    if (n < 0 && errno != EINTR) return make_error("waiting for events: {}", std::strerror(errno));
    for (int i = 0; i < n; ++i) ready_[i] = events[i].data.u64;
    return std::span<const uint64_t>(ready_.data(), n < 0 ? 0 : n);
  }

  // Reads every waiting signal; true when `on_signal` says one ends the trace.
  bool read_signals(const SignalPolicy& on_signal, bool any_stops) {
    bool stop = false;
    signalfd_siginfo info;
    while (read(signal_fd_.get(), &info, sizeof(info)) == sizeof(info)) stop |= any_stops || on_signal(info);
    return stop;
  }

 private:
  Fd signal_fd_, timer_fd_, epoll_;
  std::array<uint64_t, kMaxSources> ready_{};
};

TraceSession::TraceSession(const TraceOptions& options, SessionScope scope) : options_(options), scope_(scope) {
  entry_points_ = options_.mode != TraceOptions::Mode::kHeap;
}

TraceSession::~TraceSession() = default;

Status TraceSession::load() {
  ProbeConfig config;
  config.program = options_.empty_probe ? ProbeProgram::kEmpty : ProbeProgram::kRecord;
  config.max_processes = scope_.max_processes;
  config.record_entry_points = entry_points_;
  config.sample_rate = options_.sample_rate;
  config.verbose = options_.verbose;
  config.exec_reports.unwatched = scope_.discover;
  if (scope_.cgroup) {
    config.exec_reports.cgroup_id = scope_.cgroup->id;
    config.exec_reports.cgroup_level = scope_.cgroup->level;
  }
  auto probe = AllocProbe::load(
      config, [this](const gotrace_alloc_event& event) { on_allocation(event); },
      [this](const ExecSeen& exec) { on_exec(exec); });
  if (!probe) return probe.error();
  probe_ = std::move(*probe);
  start_ = std::chrono::steady_clock::now();
  start_wall_ = std::chrono::system_clock::now();
  return Ok{};
}

void TraceSession::on_allocation(const gotrace_alloc_event& event) {
  if (event.slot < processes_.size()) processes_[event.slot]->take_event(event);
}

void TraceSession::on_exec(const ExecSeen& exec) {
  for (auto& process : processes_) {
    if (process->pid() != exec.pid || process->ended()) continue;
    TargetExec ending;
    ending.program = current_program(exec.pid);
    ending.exact = exec.exact;
    ending.started_by_gotrace = exec.pid == root_pid_;
    process->end_by_exec(ending, exec.time);
    probe_->remove_process(process->slot());
    // Not followed into its new image: when it was all there was to trace,
    // the trace ends here.
    if (!exec.stopped && !scope_.discover && (exec.pid == root_pid_ || processes_.size() == 1))
      ending_exec_ = ending;
  }
  if (exec.stopped) stopped_.push_back(exec.pid);
  else if (scope_.discover) found_.push_back(exec.pid);
}

Status TraceSession::start_guard() {
  std::vector<int> pids;
  for (const auto& process : processes_) pids.push_back(process->pid());
  auto guard = OverheadGuard::start(pids, options_.max_overhead, probe_->record_program_fd(),
                                    primary()->plan().sites.front().instruction);
  if (!guard) return with_context(guard.error(), "--max-overhead");
  guard_ = std::move(*guard);
  return Ok{};
}

bool TraceSession::fall_back(const OverheadReading& reading) {
  // Recording stops at once; the uprobes take the kernel a while to remove,
  // and the event loop drains the ring buffer meanwhile.
  probe_->stop_recording_entry_points();
  entry_points_ = false;
  probe_->detach_entry_points();
  GuardOutcome outcome;
  outcome.reading = reading;
  outcome.budget = guard_->budget();
  outcome.switched_at = std::chrono::steady_clock::now() - start_;
  outcome.heap_took_over = heap_probed_;
  guard_outcome_ = outcome;
  guard_.reset();  // the kernel's BPF statistics go off with it
  // The live view owns the terminal: its header says it, and the summary
  // after it.
  if (view_) return !heap_probed_;
  std::string then = heap_probed_ ? "the runtime's heap-profile samples stand for the allocations from now on "
                                    "(estimates)"
                                  : "stopping, as the program's heap profiling is off";
  std::string cost = fmt::format("{:.1f}%", reading.overhead * 100);
  std::string who = processes_.size() == 1 ? fmt::format("pid {} {} of its CPU", primary()->pid(), cost)
                                           : fmt::format("the traced processes {} of their CPU", cost);
  std::cerr << fmt::format("gotrace: exact tracing costs {} ({:.0f} allocations/s at {:.2f} µs a probe hit), over "
                           "--max-overhead {:g}%: {}; --exact records every allocation whatever it costs\n",
                           who, reading.hits_per_second, reading.cost_ns / 1000, outcome.budget * 100, then);
  return !heap_probed_;
}

void TraceSession::announce() const {
  const ProcessTrace* first = primary();
  if (scope_.discover) {
    std::string where = scope_.cgroup ? fmt::format("in cgroup {}", scope_.cgroup->path) : "on the host";
    std::cerr << fmt::format("gotrace: {} Go process{} traced {}; each Go program that starts {} is traced from "
                             "when it is seen; Ctrl-C to stop\n",
                             processes_.size(), processes_.size() == 1 ? "" : "es", where, where);
    if (first == nullptr) return;
  } else if (first == nullptr) {
    std::cerr << fmt::format("gotrace: following pid {} ({}) and every Go program it starts; Ctrl-C to stop\n",
                             root_pid_, root_path_);
    return;
  }
  size_t n = first->plan().sites.size();
  const ModeProbes& probes = first->probes();
  std::string rate = probes.mem_profile_rate ? fmt::format(", MemProfileRate {}", *probes.mem_profile_rate) : "";
  std::string what = !probes.entry_points
                         ? fmt::format("the runtime's heap profiler probed (--heap{})", rate)
                         : fmt::format("{} allocation entry point{} probed{}{}", n, n == 1 ? "" : "s",
                                       probes.heap ? ", and the runtime's heap profiler" : "",
                                       options_.mode == TraceOptions::Mode::kGuarded
                                           ? fmt::format(" (exact while under --max-overhead {:g}%)",
                                                         options_.max_overhead * 100)
                                           : "");
  std::string also = scope_.follow ? ", and every Go program it starts" : "";
  for (const auto& process : processes_)
    std::cerr << fmt::format("gotrace: attached to pid {} ({}, {}): {}{}; Ctrl-C to stop\n", process->pid(),
                             process->identity().path, process->plan().binary->build_info().go_version, what, also);
}

void TraceSession::check_heap_profiling() {
  // A program may turn its heap profiling off at any time (the Go compiler
  // does at its start): looked at a few times a second, a read of one word
  // each.
  auto now = std::chrono::steady_clock::now();
  if (now - last_heap_check_ < std::chrono::milliseconds(200)) return;
  last_heap_check_ = now;
  for (auto& process : processes_) process->check_heap_profiling(now);
}

bool TraceSession::all_ended() const {
  return std::all_of(processes_.begin(), processes_.end(), [](const auto& p) { return p->ended(); });
}

bool TraceSession::take_exits(std::span<const uint64_t> ready) {
  for (uint64_t source : ready) {
    if (source < EventLoop::kProcessExit) continue;
    uint64_t slot = source - EventLoop::kProcessExit;
    if (slot >= processes_.size() || processes_[slot]->ended()) continue;
    processes_[slot]->end_by_exit(std::chrono::steady_clock::now());
    probe_->remove_process(uint32_t(slot));
  }
  return all_ended();
}

Result<SessionResult> TraceSession::run(std::optional<std::chrono::nanoseconds> duration, int root_pidfd,
                                        const SignalPolicy& on_signal) {
  auto loop = EventLoop::open(duration);
  if (!loop) return loop.error();
  for (auto [fd, source] : {std::pair{probe_->event_fd(), EventLoop::kEvents}, {root_pidfd, EventLoop::kTarget},
                            {view_ ? view_->quit_fd() : -1, EventLoop::kQuit}})
    if (Status s = loop->watch(fd, source); !s) return s.error();
  size_t watched_exits = 0;  // processes whose exits the loop watches
  auto watch_exits = [&]() -> Status {
    for (; watched_exits < processes_.size(); ++watched_exits)
      if (Status s = loop->watch(processes_[watched_exits]->pidfd(), EventLoop::kProcessExit + watched_exits); !s)
        return s;
    return Ok{};
  };
  if (Status s = watch_exits(); !s) return s.error();

  SessionResult result;
  // With the live view, the end of what is traced does not end the session:
  // the view keeps the last figures until the user quits, or a signal comes.
  bool target_gone = false;
  for (bool stop = false; !stop;) {
    // The probe wakes this loop only when the ring buffer fills up (or a
    // process execs); the timeout drains it the rest of the time.
    auto ready = loop->wait(target_gone ? -1 : AllocProbe::kDrainInterval.count());
    if (!ready) return ready.error();
    bool gone = false;
    if (!target_gone) {
      if (auto consumed = probe_->consume(); !consumed) return consumed.error();
      for (pid_t pid : std::exchange(stopped_, {}))
        if (Status s = take_stopped(pid); !s) return s.error();
      for (pid_t pid : std::exchange(found_, {})) attach_found(pid);
      // Execs the ring buffer had no room for: the scope is looked over again.
      if (uint64_t missed = probe_->unreported_execs(); missed != unreported_execs_) {
        unreported_execs_ = missed;
        if (Status s = attach_scope(); !s) return s.error();
      }
      if (Status s = watch_exits(); !s) return s.error();
      check_heap_profiling();
      check_costs();
      if (exchange_ && exchange_->requested()) publish_snapshot(false);
      if (guard_)
        if (auto over = guard_->check(std::chrono::steady_clock::now())) stop |= fall_back(*over);
      // `attach` ends when every process it traced is gone, unless more may come.
      if (take_exits(*ready) && root_pidfd < 0 && !processes_.empty() && !scope_.discover) gone = true;
      if (ending_exec_) {
        result.exec = ending_exec_;
        break;
      }
    }
    for (uint64_t source : *ready) {
      if (source == EventLoop::kSignal) stop |= loop->read_signals(on_signal, target_gone);
      if (source == EventLoop::kTimer) stop = true;
      if (source == EventLoop::kQuit) stop = result.user_quit = true;
      if (source == EventLoop::kTarget) gone = true;
    }
    if (!gone || target_gone) continue;
    result.target_exited = true;
    end_ = std::chrono::steady_clock::now();
    if (auto consumed = probe_->end_recording_and_drain(); !consumed) return consumed.error();
    if (!view_) break;
    publish_snapshot(true);
    view_->target_exited();
    target_gone = true;
    for (int fd : {probe_->event_fd(), root_pidfd, loop->timer_fd()}) loop->forget(fd);
  }
  if (!target_gone) {
    end_ = std::chrono::steady_clock::now();
    if (auto consumed = probe_->end_recording_and_drain(); !consumed) return consumed.error();
  }
  if (!result.exec && ending_exec_) result.exec = ending_exec_;
  if (result.exec) end_ = start_ + result.exec->at;
  return result;
}

std::string TraceSession::mode_note() const {
  const ProcessTrace* first = primary();
  uint64_t heap_rate = first ? first->heap_rate() : 0;
  std::optional<uint64_t> read_rate = first ? first->probes().mem_profile_rate : std::nullopt;
  std::string rate = heap_rate != 0 ? format_bytes(heap_rate) : read_rate ? format_bytes(*read_rate) : "its rate";
  if (options_.mode == TraceOptions::Mode::kHeap) return "estimates: heap samples every " + rate;
  if (options_.sample_rate != 0) return "estimates: sampled every " + format_bytes(options_.sample_rate);
  if (guard_outcome_ && guard_outcome_->switched_at)
    return fmt::format("exact, then {} at {:.1f}s", guard_outcome_->heap_took_over ? "heap samples" : "stopped",
                       std::chrono::duration<double>(*guard_outcome_->switched_at).count());
  if (options_.mode == TraceOptions::Mode::kGuarded) return fmt::format("exact (guard {:g}%)", options_.max_overhead * 100);
  return "exact";
}

std::vector<std::string> TraceSession::mode_comments() const {
  const ProcessTrace* first = primary();
  std::string who = processes_.size() == 1 ? fmt::format("pid {} ({})", first->pid(), first->identity().path)
                                           : fmt::format("{} processes", processes_.size());
  uint64_t heap_rate = first ? first->heap_rate() : 0;
  std::string rate = heap_rate != 0 ? fmt::format("MemProfileRate {}", heap_rate) : "its MemProfileRate";
  std::vector<std::string> comments;
  if (options_.mode == TraceOptions::Mode::kHeap)
    comments.push_back(fmt::format("gotrace --heap: the allocations of {} that the runtime's heap profiler sampled "
                                   "({}), scaled to estimates as Go scales its heap profile",
                                   who, rate));
  else if (options_.sample_rate != 0)
    comments.push_back(fmt::format("gotrace: allocations of {}, sampled every {} bytes on average, scaled to "
                                   "estimates", who, options_.sample_rate));
  else if (guard_outcome_ && guard_outcome_->switched_at)
    comments.push_back(fmt::format("gotrace: every allocation of {} up to the fall-back below", who));
  else
    comments.push_back(fmt::format("gotrace: every allocation of {}", who));
  if (guard_outcome_ && guard_outcome_->switched_at)
    comments.push_back(fmt::format(
        "gotrace: exact tracing would cost the program {:.1f}% of its CPU, over --max-overhead {:g}%: from {:.2f}s "
        "on, the runtime's heap-profile samples ({}) stand for the allocations, as estimates",
        guard_outcome_->reading.overhead * 100, guard_outcome_->budget * 100,
        std::chrono::duration<double>(*guard_outcome_->switched_at).count(), rate));
  if (heap_probed_) {
    comments.push_back(fmt::format("gotrace: inuse_objects and inuse_space are of what was allocated while tracing, "
                                   "estimated from the runtime's heap-profile samples ({})", rate));
    comments.push_back("gotrace: peak_inuse_objects and peak_inuse_space are what each process had in use at its "
                       "peak: the end of the collection cycle when its in-use bytes were the most");
  }
  return comments;
}

PprofMetadata TraceSession::pprof_metadata() const {
  PprofMetadata metadata;
  metadata.time_nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(start_wall_.time_since_epoch()).count();
  metadata.duration_nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(end_ - start_).count();
  metadata.period = options_.sample_rate != 0 ? options_.sample_rate : 1;
  const ProcessTrace* first = primary();
  bool heap_estimates = options_.mode == TraceOptions::Mode::kHeap || (guard_outcome_ && guard_outcome_->switched_at);
  if (heap_estimates && first && first->heap_rate() != 0) metadata.period = int64_t(first->heap_rate());
  metadata.comments = mode_comments();
  return metadata;
}

Status TraceSession::finish(const SessionResult& result, std::ostream& table_out) {
  close_view();
  (void)result;
  if (guard_) guard_outcome_ = GuardOutcome{guard_->overall(), guard_->budget(), std::nullopt, false};
  guard_.reset();
  std::vector<TraceSummary> summaries;
  for (auto& process : processes_) {
    TraceSummary summary = process->summary(end_, options_);
    summary.counts = probe_->counts(process->slot());
    summary.kernel = probe_->kernel_totals(process->slot());
    summary.guard = guard_outcome_;
    summaries.push_back(std::move(summary));
  }
  auto unattributed = probe_->unattributed_counts();
  probe_.reset();  // detach before the slow part

  // The aggregators' memory is given back as the profiles take their place,
  // and the files are streamed from the profile.
  std::vector<std::string> names;
  for (const auto& process : processes_) names.push_back(process->identity().name);
  // One process's profile at a time is built and added, so that memory
  // peaks near one combined profile. The binaries the frames point into
  // live as long as the session.
  ProfileCombiner combiner;
  for (auto& process : processes_) combiner.add(process->build_profile());
  Profile profile = std::move(combiner).take();
  std::cerr << format_session_summary(std::move(summaries), names, unattributed, end_ - start_);
  return write_trace_outputs(profile, options_.files, pprof_metadata(), table_out);
}

}  // namespace gotrace
