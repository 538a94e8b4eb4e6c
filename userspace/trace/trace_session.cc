#include "userspace/trace/trace_session.h"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <vector>
#include <span>

#include "base/text_format.h"
#include "userspace/export/trace_outputs.h"
#include "userspace/process/target_process.h"
#include "userspace/profile/profile_builder.h"
#include "userspace/trace/trace_summary.h"

namespace gotrace {

// The descriptors the session waits on, each with what it means.
class TraceSession::EventLoop {
 public:
  enum Source : uint64_t { kEvents, kSignal, kTimer, kTarget, kQuit };
  static constexpr int kMaxSources = 5;

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
  Status watch(int fd, Source source) {
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
  Result<std::span<const Source>> wait(int timeout_ms) {
    epoll_event events[kMaxSources];
    int n = epoll_wait(epoll_.get(), events, kMaxSources, timeout_ms);
    if (n < 0 && errno != EINTR) return make_error("waiting for events: {}", std::strerror(errno));
    for (int i = 0; i < n; ++i) ready_[i] = static_cast<Source>(events[i].data.u64);
    return std::span<const Source>(ready_.data(), n < 0 ? 0 : n);
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
  std::array<Source, kMaxSources> ready_{};
};

TraceSession::TraceSession(ProbePlan plan, int pid, std::string display_path, const TraceOptions& options)
    : plan_(std::move(plan)), pid_(pid), display_path_(std::move(display_path)), options_(options) {
  AllocatorModel model{plan_.binary->build_info().release()->at_least(1, 22)};
  // A pointer-free type, or none, takes the allocator's noscan size rules.
  auto noscan = [this](uint64_t type) { return type == 0 || plan_.binary->type_is_pointer_free(type - load_bias()); };
  aggregator_ = std::make_unique<StackAggregator>(model, noscan, options_.sample_rate, options_.max_memory);
}

TraceSession::~TraceSession() {
  if (detacher_.joinable()) detacher_.join();
}

Status TraceSession::attach(const std::string& attach_path, TargetOrigin origin) {
  origin_ = origin;
  std::optional<uint64_t> bias;
  if (origin == TargetOrigin::kAttached) bias = plan_.binary->elf().is_pie() ? known_bias_ : 0;
  auto probes = choose_probes(options_, plan_, pid_, bias, display_path_);
  if (!probes) return probes.error();
  probes_ = std::move(*probes);
  ProbeTarget target = plan_.target(pid_, attach_path);
  target.record_entry_points = probes_.entry_points;
  if (probes_.heap) {
    target.heap = plan_.heap;
    shaper_ = std::make_unique<HeapSampleShaper>(plan_);
  }
  aggregator_->set_records_inuse(probes_.heap);
  // The child `run` started execs the program once the probes are in place.
  target.execs_before_tracing = origin == TargetOrigin::kStarted ? 1 : 0;
  target.program = options_.empty_probe ? ProbeProgram::kEmpty : ProbeProgram::kRecord;
  target.sample_rate = options_.sample_rate;
  target.verbose = options_.verbose;
  auto probe = AllocProbe::attach(target, [this](const gotrace_alloc_event& event) { take_event(event); });
  if (!probe) return probe.error();
  probe_ = std::move(*probe);
  if (options_.mode == TraceOptions::Mode::kGuarded) {
    if (Status s = start_guard(); !s) return s;
  }
  start_ = std::chrono::steady_clock::now();
  start_wall_ = std::chrono::system_clock::now();
  return Ok{};
}

void TraceSession::take_event(const gotrace_alloc_event& event) {
  if (!(event.flags & GOTRACE_EVENT_HEAP_SAMPLE) || !shaper_) return aggregator_->add(event);
  ++heap_samples_;
  heap_rate_ = event.sample_rate;
  std::memcpy(&shaped_, &event, GOTRACE_EVENT_HEADER_SIZE + size_t(event.stack_depth) * sizeof(uint64_t));
  shaper_->shape(shaped_, load_bias());
  aggregator_->add(shaped_);
}

Status TraceSession::start_guard() {
  auto guard = OverheadGuard::start(pid_, options_.max_overhead, probe_->record_program_fd(),
                                    plan_.sites.front().instruction);
  if (!guard) return with_context(guard.error(), "--max-overhead");
  guard_ = std::move(*guard);
  return Ok{};
}

bool TraceSession::fall_back(const OverheadReading& reading) {
  // Recording stops at once; the uprobes take the kernel a while to remove,
  // and the event loop drains the ring buffer meanwhile.
  probe_->stop_recording_entry_points();
  detacher_ = std::thread([probe = probe_.get()] { probe->detach_entry_points(); });
  GuardOutcome outcome;
  outcome.reading = reading;
  outcome.budget = guard_->budget();
  outcome.switched_at = std::chrono::steady_clock::now() - start_;
  outcome.heap_took_over = probes_.heap;
  guard_outcome_ = outcome;
  guard_.reset();  // the kernel's BPF statistics go off with it
  // The live view owns the terminal: its header says it, and the summary
  // after it.
  if (view_) return !probes_.heap;
  std::string then = probes_.heap ? "the runtime's heap-profile samples stand for the allocations from now on "
                                    "(estimates)"
                                  : "stopping, as the program's heap profiling is off";
  std::cerr << fmt::format("gotrace: exact tracing costs pid {} {:.1f}% of its CPU ({:.0f} allocations/s at {:.2f} "
                           "µs a probe hit), over --max-overhead {:g}%: {}; --exact records every allocation "
                           "whatever it costs\n",
                           pid_, reading.overhead * 100, reading.hits_per_second, reading.cost_ns / 1000,
                           outcome.budget * 100, then);
  return !probes_.heap;
}

uint64_t TraceSession::load_bias() const {
  // A binary that is not position independent is loaded where it was linked.
  if (!plan_.binary->elf().is_pie()) return 0;
  return known_bias_ ? *known_bias_ : probe_->observed_load_bias();
}

void TraceSession::announce() const {
  size_t n = plan_.sites.size();
  std::string rate = probes_.mem_profile_rate ? fmt::format(", MemProfileRate {}", *probes_.mem_profile_rate) : "";
  std::string what = !probes_.entry_points
                         ? fmt::format("the runtime's heap profiler probed (--heap{})", rate)
                         : fmt::format("{} allocation entry point{} probed{}{}", n, n == 1 ? "" : "s",
                                       probes_.heap ? ", and the runtime's heap profiler" : "",
                                       options_.mode == TraceOptions::Mode::kGuarded
                                           ? fmt::format(" (exact while under --max-overhead {:g}%)",
                                                         options_.max_overhead * 100)
                                           : "");
  std::cerr << fmt::format("gotrace: attached to pid {} ({}, {}): {}; Ctrl-C to stop\n", pid_, display_path_,
                           plan_.binary->build_info().go_version, what);
}

void TraceSession::open_view() {
  auto exchange = SnapshotExchange::create();
  if (!exchange) {
    std::cerr << fmt::format("gotrace: no live view: {}\n", exchange.error().message);
    return;
  }
  TraceInfo info{pid_, display_path_, plan_.binary->build_info().go_version, options_.sample_rate, mode_note()};
  StackSymbolizer symbolizer(*plan_.binary, translator_for(*plan_.binary, load_bias(), display_path_));
  auto view = TerminalView::open(std::move(info), std::move(symbolizer), **exchange);
  if (!view) {
    std::cerr << fmt::format("gotrace: no live view: {}\n", view.error().message);
    return;
  }
  exchange_ = std::move(*exchange);
  view_ = std::move(*view);
}

void TraceSession::close_view() {
  view_.reset();
  exchange_.reset();
}

Result<SessionResult> TraceSession::run(std::optional<std::chrono::nanoseconds> duration, int pidfd,
                                        const SignalPolicy& on_signal) {
  auto loop = EventLoop::open(duration);
  if (!loop) return loop.error();
  for (auto [fd, source] : {std::pair{probe_->event_fd(), EventLoop::kEvents}, {pidfd, EventLoop::kTarget},
                            {view_ ? view_->quit_fd() : -1, EventLoop::kQuit}})
    if (Status s = loop->watch(fd, source); !s) return s.error();

  SessionResult result;
  // With the live view, the target's exit does not end the session: the
  // view keeps the last figures until the user quits, or a signal comes.
  // An exec ends it in any case: what follows is another program's.
  bool target_gone = false;
  for (bool stop = false; !stop && !probe_->exec_seen();) {
    // The probe wakes this loop only when the ring buffer fills up (or the
    // target execs); the timeout drains it the rest of the time.
    auto ready = loop->wait(target_gone ? -1 : AllocProbe::kDrainInterval.count());
    if (!ready) return ready.error();
    if (!target_gone) {
      if (auto consumed = probe_->consume(); !consumed) return consumed.error();
      if (exchange_ && exchange_->requested()) publish_snapshot(false);
      if (guard_)
        if (auto over = guard_->check(std::chrono::steady_clock::now())) stop |= fall_back(*over);
    }
    for (EventLoop::Source source : *ready) {
      if (source == EventLoop::kSignal) stop |= loop->read_signals(on_signal, target_gone);
      if (source == EventLoop::kTimer) stop = true;
      if (source == EventLoop::kQuit) stop = result.user_quit = true;
      if (source != EventLoop::kTarget) continue;
      result.target_exited = true;
      end_ = std::chrono::steady_clock::now();
      if (!view_) {
        stop = true;
        continue;
      }
      if (auto consumed = probe_->consume(); !consumed) return consumed.error();
      if (probe_->exec_seen()) break;
      publish_snapshot(true);
      view_->target_exited();
      target_gone = true;
      for (int fd : {probe_->event_fd(), pidfd, loop->timer_fd()}) loop->forget(fd);
    }
  }
  if (!target_gone) {
    if (auto consumed = probe_->consume(); !consumed) return consumed.error();
    end_ = std::chrono::steady_clock::now();
  }
  if (const auto& seen = probe_->exec_seen()) result.exec = note_exec(*seen);
  return result;
}

TargetExec TraceSession::note_exec(const ExecSeen& seen) {
  // An exec while the probes were being attached is at the start.
  end_ = std::max(seen.time, start_);
  TargetExec exec;
  exec.at = end_ - start_;
  exec.program = current_program(pid_);
  exec.exact = seen.exact;
  exec.started_by_gotrace = origin_ == TargetOrigin::kStarted;
  return exec;
}

void TraceSession::publish_snapshot(bool final) {
  auto snapshot = std::make_unique<TraceSnapshot>(take_snapshot(*aggregator_, exchange_->first_unseen_stack(aggregator_->generation())));
  snapshot->elapsed = std::chrono::steady_clock::now() - start_;
  if (auto counts = probe_->counts()) snapshot->probe_counts = *counts;
  snapshot->final = final;
  snapshot->mode_note = mode_note();
  exchange_->publish(std::move(snapshot));
}

std::string TraceSession::mode_note() const {
  std::string rate = heap_rate_ != 0 ? format_bytes(heap_rate_) : probes_.mem_profile_rate
                                                                      ? format_bytes(*probes_.mem_profile_rate)
                                                                      : std::string("its rate");
  if (options_.mode == TraceOptions::Mode::kHeap) return "estimates: heap samples every " + rate;
  if (options_.sample_rate != 0) return "estimates: sampled every " + format_bytes(options_.sample_rate);
  if (guard_outcome_ && guard_outcome_->switched_at)
    return fmt::format("exact, then {} at {:.1f}s", guard_outcome_->heap_took_over ? "heap samples" : "stopped",
                       std::chrono::duration<double>(*guard_outcome_->switched_at).count());
  if (options_.mode == TraceOptions::Mode::kGuarded) return fmt::format("exact (guard {:g}%)", options_.max_overhead * 100);
  return "exact";
}

std::vector<std::string> TraceSession::mode_comments() const {
  std::string who = fmt::format("pid {} ({})", pid_, display_path_);
  std::string rate = heap_rate_ != 0 ? fmt::format("MemProfileRate {}", heap_rate_) : "its MemProfileRate";
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
  if (probes_.heap)
    comments.push_back(fmt::format("gotrace: inuse_objects and inuse_space are of what was allocated while tracing, "
                                   "estimated from the runtime's heap-profile samples ({})", rate));
  return comments;
}

namespace {

// The executable's text as the process at `path` maps it at `bias`.
Mapping executable_mapping(const GoBinary& binary, uint64_t bias, const std::string& path) {
  const ElfFile& elf = binary.elf();
  TextMapping text = text_mapping(binary, bias);
  return {path, elf.gnu_build_id().empty() ? elf.go_build_id() : elf.gnu_build_id(), text.start, text.limit,
          text.file_offset};
}

}  // namespace

PprofMetadata TraceSession::pprof_metadata() const {
  PprofMetadata metadata;
  metadata.time_nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(start_wall_.time_since_epoch()).count();
  metadata.duration_nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(end_ - start_).count();
  metadata.period = options_.sample_rate != 0 ? options_.sample_rate : 1;
  bool heap_estimates = options_.mode == TraceOptions::Mode::kHeap || (guard_outcome_ && guard_outcome_->switched_at);
  if (heap_estimates && heap_rate_ != 0) metadata.period = int64_t(heap_rate_);
  metadata.comments = mode_comments();
  return metadata;
}

Status TraceSession::finish(const SessionResult& result, std::ostream& table_out) {
  close_view();
  TraceSummary summary;
  summary.pid = pid_;
  summary.counts = probe_->counts();
  summary.kernel = probe_->kernel_totals();
  summary.verbose = options_.verbose;
  uint64_t bias = load_bias();
  if (guard_) guard_outcome_ = GuardOutcome{guard_->overall(), guard_->budget(), std::nullopt, false};
  guard_.reset();
  if (detacher_.joinable()) detacher_.join();
  probe_.reset();  // detach before the slow part

  summary.duration = end_ - start_;
  summary.target_exited = result.target_exited;
  summary.exec = result.exec;
  summary.totals = aggregator_->totals();
  summary.sample_rate = options_.sample_rate;
  summary.events = aggregator_->events();
  summary.distinct_stacks = aggregator_->stack_count();
  summary.merges = aggregator_->merges();
  summary.max_memory = options_.max_memory;
  summary.guard = guard_outcome_;
  std::optional<uint64_t> rate = probes_.mem_profile_rate;
  if (!rate && heap_rate_ != 0) rate = heap_rate_;  // as the samples said: `run` could not read it first
  summary.heap = {options_.mode == TraceOptions::Mode::kHeap, rate, heap_samples_,
                  aggregator_->records_inuse(), probes_.no_heap_reason, aggregator_->inuse_totals(),
                  aggregator_->live_objects(), aggregator_->pending_objects(), aggregator_->cycles()};
  // The aggregator's memory is given back as the profile takes its place,
  // and the files are streamed from the profile.
  const GoBinary& binary = *plan_.binary;
  ProcessLabel process{pid_, std::filesystem::path(display_path_).filename().string(), "", 0};
  Profile profile = build_profile(*aggregator_, binary, translator_for(binary, bias, display_path_),
                                  std::move(process), executable_mapping(binary, bias, display_path_));
  aggregator_.reset();
  std::cerr << format_trace_summary(summary);
  return write_trace_outputs(profile, options_.files, pprof_metadata(), table_out);
}

}  // namespace gotrace
