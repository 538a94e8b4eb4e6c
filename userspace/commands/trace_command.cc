#include "userspace/commands/trace_command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <iostream>

#include "base/duration.h"
#include "base/fd.h"
#include "base/output_file.h"
#include "base/text_format.h"
#include "symbolizer/go_binary.h"
#include "symbolizer/process_maps.h"
#include "userspace/export/folded_writer.h"
#include "userspace/export/pprof_writer.h"
#include "userspace/probe/alloc_probe.h"
#include "userspace/probe/entry_points.h"
#include "userspace/trace/aggregator.h"
#include "userspace/trace/call_sites.h"
#include "userspace/tui/terminal_view.h"
#include "userspace/tui/trace_snapshot.h"

namespace gotrace {
namespace {

// Tracing needs the register ABI (size in RAX, type in RBX).
constexpr GoRelease kOldestTraceableRelease{1, 17, 0};
// The newest release whose allocator entry points the tests have verified. A
// newer one may allocate through functions gotrace does not know, and would
// be undercounted silently, so it is refused unless the user opts in.
constexpr GoRelease kNewestVerifiedRelease{1, 27, 0};


bool on_a_terminal() { return isatty(STDIN_FILENO) && isatty(STDOUT_FILENO); }

Status check_common_preconditions(const TraceOutputs& outputs) {
  if (outputs.live_view == TraceOutputs::LiveView::kOn && !on_a_terminal())
    return make_error("--tui: the live view needs a terminal on stdin and stdout");
  if (auto missing = missing_bpf_privileges()) return Error{*missing};
  if (Status s = check_output_writable(outputs.pprof_path); !s) return s;
  return check_output_writable(outputs.folded_path);
}

// Everything known about the binary before anything is attached.
struct PreparedBinary {
  std::unique_ptr<GoBinary> binary;
  std::vector<ProbeSite> sites;  // runtime.mallocgc first
  FunctionInfo mallocgc;
};

Result<PreparedBinary> prepare_binary(const std::string& open_path, const std::string& display_path,
                                      bool allow_unverified_release) {
  auto opened = GoBinary::open(open_path, display_path);
  if (!opened) return opened.error();
  PreparedBinary prepared;
  prepared.binary = std::move(*opened);
  const GoBinary& binary = *prepared.binary;
  auto release = binary.build_info().release();
  if (!release || *release < kOldestTraceableRelease)
    return make_error("'{}': built by {}; tracing needs Go 1.17 or later (the register ABI)", display_path,
                      binary.build_info().go_version);
  if (!allow_unverified_release && (release->major > kNewestVerifiedRelease.major ||
                                    (release->major == kNewestVerifiedRelease.major &&
                                     release->minor > kNewestVerifiedRelease.minor)))
    return make_error("'{}': built by {}, newer than go{}.{}, the newest release gotrace is verified on; its "
                      "allocator may have entry points gotrace would miss (--allow-unverified-go traces it anyway)",
                      display_path, binary.build_info().go_version, kNewestVerifiedRelease.major,
                      kNewestVerifiedRelease.minor);
  auto found = find_allocation_entry_points(binary);
  if (!found) return found.error();
  prepared.mallocgc = found->entry_points.front().function;  // runtime.mallocgc first
  if (!found->unverified.empty()) {
    // Allocations through a path gotrace does not understand would go
    // uncounted without a word; probing it instead could count them twice or
    // read arguments that are not mallocgc's. Refuse unless told to trace the rest.
    const EntryPoint& first = found->unverified.front();
    std::string what = fmt::format("{} ({})", first.function.name, first.how_found);
    if (found->unverified.size() > 1)
      what += fmt::format(", and {} more (gotrace info lists them)", found->unverified.size() - 1);
    if (!allow_unverified_release)
      return make_error("'{}': allocation path not understood: {}; its allocations would not be counted "
                        "(--allow-unverified-go traces the rest anyway)",
                        display_path, what);
    std::cerr << fmt::format("gotrace: warning: '{}': allocation path not understood, its allocations are not "
                             "counted: {}\n",
                             display_path, what);
  }
  for (const EntryPoint& point : found->entry_points) {
    auto site = find_probe_site(binary, point.function);
    if (!site) return site.error();
    prepared.sites.push_back(std::move(*site));
  }
  return prepared;
}

// The pointer-free flag of a type, read from its descriptor in the binary
// (runtime._type.PtrBytes at offset 8). Types the file does not hold (made
// at run time by reflect) count as having pointers.
bool type_is_noscan(const GoBinary& binary, uint64_t type_vaddr) {
  auto ptr_bytes = binary.elf().bytes_at_vaddr(type_vaddr + 8, 8);
  return ptr_bytes && ptr_bytes->read_unchecked<uint64_t>(0) == 0;
}

// The signals that end a trace (read through a signalfd, so blocked).
sigset_t stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  return signals;
}

struct SessionResult {
  bool target_exited = false;
  bool user_quit = false;  // q in the live view
};

// One trace from attach to the written files.
class TraceSession {
 public:
  TraceSession(PreparedBinary prepared, int pid, std::string display_path, const TraceOutputs& outputs,
               bool table_to_stderr)
      : prepared_(std::move(prepared)),
        pid_(pid),
        display_path_(std::move(display_path)),
        outputs_(outputs),
        table_to_stderr_(table_to_stderr) {
    const GoBinary& binary = *prepared_.binary;
    AllocatorModel model{binary.build_info().release()->at_least(1, 22)};
    aggregator_ = std::make_unique<StackAggregator>(
        model,
        [this](uint64_t type) {
          if (type == 0) return true;
          return type_is_noscan(*prepared_.binary, type - load_bias());
        },
        outputs_.sample_rate);
  }

  Status attach(const std::string& attach_path) {
    ProbeTarget target;
    target.pid = pid_;
    target.binary_path = attach_path;
    target.program = outputs_.empty_probe ? ProbeProgram::kEmpty : ProbeProgram::kRecord;
    target.sites = prepared_.sites;
    target.mallocgc_start = prepared_.mallocgc.entry;
    target.mallocgc_end = prepared_.mallocgc.end;
    if (auto goexit = prepared_.binary->find_function("runtime.goexit")) {
      target.goexit_start = goexit->entry;
      target.goexit_end = goexit->end;
    }
    target.sample_rate = outputs_.sample_rate;
    auto probe = AllocProbe::attach(target, [this](const gotrace_alloc_event& event) { aggregator_->add(event); });
    if (!probe) return probe.error();
    probe_ = std::move(*probe);
    start_ = std::chrono::steady_clock::now();
    start_wall_ = std::chrono::system_clock::now();
    return Ok{};
  }

  // The target's load bias, once known from its mappings (attach), or else
  // as the probe saw it (a program `run` started may be gone by the end).
  // A binary that is not position independent is loaded where it was linked.
  void set_load_bias(uint64_t bias) { known_bias_ = bias; }
  const GoBinary& binary() const { return *prepared_.binary; }
  uint64_t load_bias() const {
    if (!prepared_.binary->elf().is_pie()) return 0;
    return known_bias_ ? *known_bias_ : probe_->observed_load_bias();
  }

  // The binary's segments where the target has them, for symbolizing its addresses.
  AddressTranslator translator(uint64_t bias) const {
    std::vector<MemoryMapping> mappings;
    for (const ElfSegment& segment : prepared_.binary->elf().load_segments())
      mappings.push_back({segment.vaddr + bias, segment.vaddr + segment.memsz + bias, segment.offset,
                          segment.executable(), 0, display_path_});
    return AddressTranslator(bias, std::move(mappings));
  }

  // Opens the live view. A terminal that cannot be driven is not worth
  // stopping for: tracing goes on without the view, and stderr says why.
  void open_view() {
    auto exchange = SnapshotExchange::create();
    if (!exchange) {
      std::cerr << fmt::format("gotrace: no live view: {}\n", exchange.error().message);
      return;
    }
    TraceInfo info{pid_, display_path_, prepared_.binary->build_info().go_version, outputs_.sample_rate};
    auto view = TerminalView::open(std::move(info), StackSymbolizer(*prepared_.binary, translator(load_bias())),
                                   **exchange);
    if (!view) {
      std::cerr << fmt::format("gotrace: no live view: {}\n", view.error().message);
      return;
    }
    exchange_ = std::move(*exchange);
    view_ = std::move(*view);
  }

  // Gives the terminal back; the summary is printed after this.
  void close_view() {
    view_.reset();
    exchange_.reset();
  }

  void announce() const {
    size_t n = prepared_.sites.size();
    std::cerr << fmt::format("gotrace: attached to pid {} ({}, {}): {} allocation entry point{} probed; Ctrl-C to stop\n",
                             pid_, display_path_, prepared_.binary->build_info().go_version, n, n == 1 ? "" : "s");
  }

  // Consumes events until a signal, the deadline or the target's exit.
  // `on_signal` decides what a signal means; returning true stops tracing.
  Result<SessionResult> run(std::optional<std::chrono::nanoseconds> duration, int pidfd,
                            const std::function<bool(const signalfd_siginfo&)>& on_signal) {
    sigset_t signals = stop_signals();
    Fd signal_fd(signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
    Fd timer_fd;
    if (duration) {
      timer_fd = Fd(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
      itimerspec spec{};
      spec.it_value.tv_sec = duration->count() / 1000000000;
      spec.it_value.tv_nsec = duration->count() % 1000000000;
      if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
      timerfd_settime(timer_fd.get(), 0, &spec, nullptr);
    }
    Fd epoll(epoll_create1(EPOLL_CLOEXEC));
    enum Source : uint64_t { kEvents, kSignal, kTimer, kTarget, kQuit };
    auto watch = [&](int fd, Source source) {
      if (fd < 0) return;
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u64 = source;
      epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &event);
    };
    watch(probe_->event_fd(), kEvents);
    watch(signal_fd.get(), kSignal);
    watch(timer_fd.get(), kTimer);
    watch(pidfd, kTarget);
    watch(view_ ? view_->quit_fd() : -1, kQuit);

    SessionResult result;
    // With the live view, the target's exit does not end the session: the
    // view keeps the last figures until the user quits, or a signal comes.
    bool target_gone = false;
    for (bool stop = false; !stop;) {
      epoll_event ready[5];
      // The probe wakes this loop only when the ring buffer fills up; the
      // timeout drains it the rest of the time.
      int n = epoll_wait(epoll.get(), ready, 5, target_gone ? -1 : AllocProbe::kDrainInterval.count());
      if (n < 0 && errno != EINTR) return make_error("waiting for events: {}", std::strerror(errno));
      if (!target_gone) {
        if (auto consumed = probe_->consume(); !consumed) return consumed.error();
        if (exchange_ && exchange_->requested()) publish_snapshot(false);
      }
      for (int i = 0; i < n; ++i) {
        switch (ready[i].data.u64) {
          case kSignal: {
            signalfd_siginfo info;
            while (read(signal_fd.get(), &info, sizeof(info)) == sizeof(info)) stop |= target_gone || on_signal(info);
            break;
          }
          case kTimer: stop = true; break;
          case kQuit:
            stop = true;
            result.user_quit = true;
            break;
          case kTarget:
            result.target_exited = true;
            end_ = std::chrono::steady_clock::now();
            if (!view_) {
              stop = true;
              break;
            }
            if (auto consumed = probe_->consume(); !consumed) return consumed.error();
            publish_snapshot(true);
            view_->target_exited();
            target_gone = true;
            // Each of these stays readable from now on.
            for (int fd : {probe_->event_fd(), pidfd, timer_fd.get()})
              if (fd >= 0) epoll_ctl(epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
            break;
        }
      }
    }
    if (target_gone) return result;
    if (auto consumed = probe_->consume(); !consumed) return consumed.error();
    end_ = std::chrono::steady_clock::now();
    return result;
  }

  // Hands the view what it asked for; the view symbolizes and draws on its own thread.
  void publish_snapshot(bool final) {
    auto snapshot = std::make_unique<TraceSnapshot>(take_snapshot(*aggregator_, exchange_->first_unseen_stack()));
    snapshot->elapsed = std::chrono::steady_clock::now() - start_;
    if (auto counts = probe_->counts()) snapshot->probe_counts = *counts;
    snapshot->final = final;
    exchange_->publish(std::move(snapshot));
  }

  // Detaches, symbolizes, writes the outputs and the summary. Runs even when
  // the trace was cut short, so nothing that was seen is lost.
  Status finish(const SessionResult& result) {
    close_view();
    auto counts = probe_->counts();
    auto kernel = probe_->kernel_totals();
    uint64_t bias = load_bias();
    probe_.reset();  // detach before the slow part

    const GoBinary& binary = *prepared_.binary;
    uint64_t text_start = 0, text_end = 0, text_offset = 0;
    for (const ElfSegment& segment : binary.elf().load_segments()) {
      if (segment.executable() && text_end == 0) {
        text_start = segment.vaddr + bias;
        text_end = segment.vaddr + segment.memsz + bias;
        text_offset = segment.offset;
      }
    }
    Profile profile = build_profile(*aggregator_, binary, translator(bias));

    double seconds = std::chrono::duration<double>(end_ - start_).count();
    const AllocationTotals& totals = aggregator_->totals();
    std::cerr << fmt::format("gotrace: traced pid {} for {:.2f}s{}: {} allocations, {}; {}\n", pid_, seconds,
                             result.target_exited ? " (until it exited)" : "", totals.count,
                             format_bytes(totals.bytes),
                             counts ? drops_summary(*counts) : "events lost unknown: " + counts.error().message);
    if (outputs_.sample_rate != 0) {
      std::string recorded =
          kernel ? fmt::format("{} of {} allocations ({} requested, counted in the kernel)", aggregator_->events(),
                               kernel->allocations, format_bytes(kernel->requested_bytes))
                 : fmt::format("{} allocations ({})", aggregator_->events(), kernel.error().message);
      std::cerr << fmt::format("gotrace: sampled one allocation per {} on average: {} recorded; figures above are "
                               "estimates\n",
                               format_bytes(outputs_.sample_rate), recorded);
    }
    if (std::string notices = counts ? notices_summary(*counts) : ""; !notices.empty())
      std::cerr << fmt::format("gotrace: {}\n", notices);

    Status status = Ok{};
    if (!outputs_.pprof_path.empty()) {
      PprofMetadata metadata;
      metadata.binary_path = display_path_;
      metadata.build_id = binary.elf().gnu_build_id().empty() ? binary.elf().go_build_id() : binary.elf().gnu_build_id();
      metadata.mapping_start = text_start;
      metadata.mapping_limit = text_end;
      metadata.mapping_offset = text_offset;
      metadata.time_nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(start_wall_.time_since_epoch()).count();
      metadata.duration_nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(end_ - start_).count();
      metadata.period = outputs_.sample_rate != 0 ? outputs_.sample_rate : 1;
      metadata.comment = outputs_.sample_rate != 0
                             ? fmt::format("gotrace: allocations of pid {} ({}), sampled every {} bytes on average, "
                                           "scaled to estimates",
                                           pid_, display_path_, outputs_.sample_rate)
                             : fmt::format("gotrace: every allocation of pid {} ({})", pid_, display_path_);
      if (Status s = write_file_atomically(outputs_.pprof_path, encode_pprof(profile, metadata)); !s) status = s;
    }
    if (!outputs_.folded_path.empty()) {
      if (Status s = write_file_atomically(outputs_.folded_path, encode_folded(profile, {.bytes = false, .type_frame = outputs_.folded_types})); !s && status) status = s;
    }
    if (outputs_.pprof_path.empty() && outputs_.folded_path.empty()) {
      // With no file named, the top call sites are the data; under `run`,
      // stdout belongs to the traced program, so they go to stderr there.
      std::ostream& out = table_to_stderr_ ? std::cerr : std::cout;
      out << format_call_site_table(call_sites(profile), totals, 20) << std::flush;
    }
    return status;
  }

 private:
  PreparedBinary prepared_;
  int pid_;
  std::string display_path_;
  TraceOutputs outputs_;
  bool table_to_stderr_;
  std::unique_ptr<StackAggregator> aggregator_;
  std::unique_ptr<AllocProbe> probe_;
  // The view refers to the exchange: it is declared after, to go first.
  std::unique_ptr<SnapshotExchange> exchange_;
  std::unique_ptr<TerminalView> view_;
  std::optional<uint64_t> known_bias_;
  std::chrono::steady_clock::time_point start_, end_;
  std::chrono::system_clock::time_point start_wall_;
};

int pidfd_open(pid_t pid) { return syscall(SYS_pidfd_open, pid, 0); }

// Blocks the signals the session reads through a signalfd.
void block_stop_signals() {
  sigset_t signals = stop_signals();
  sigprocmask(SIG_BLOCK, &signals, nullptr);
}

// execvp's search, done up front so that the binary can be inspected first.
Result<std::string> find_executable(const std::string& name) {
  auto executable = [](const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) {
    if (!executable(name)) return make_error("'{}': {}", name, access(name.c_str(), F_OK) == 0 ? "not an executable file" : "No such file or directory");
    return name;
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (executable(candidate)) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return make_error("'{}': command not found", name);
}

}  // namespace


Result<int> run_attach(const AttachOptions& options) {
  if (Status s = check_common_preconditions(options.outputs); !s) return s.error();
  auto process = inspect_process(options.pid);
  if (!process) return process.error();
  auto prepared = prepare_binary(process->open_path, process->path, options.outputs.allow_unverified_release);
  if (!prepared) return prepared.error();
  Fd pidfd(pidfd_open(options.pid));
  if (pidfd.get() < 0) return make_error("pid {}: no such process", options.pid);

  block_stop_signals();
  std::optional<uint64_t> bias;
  if (auto translator = AddressTranslator::create(*process, prepared->binary->elf())) bias = translator->load_bias();
  TraceSession session(std::move(*prepared), options.pid, process->path, options.outputs, false);
  if (bias) session.set_load_bias(*bias);
  if (Status s = session.attach(process->open_path); !s) return s.error();
  session.announce();
  if (options.outputs.live_view != TraceOutputs::LiveView::kOff && on_a_terminal()) session.open_view();
  auto result = session.run(options.duration, pidfd.get(), [](const signalfd_siginfo&) { return true; });
  SessionResult outcome = result ? *result : SessionResult{};
  Status finished = session.finish(outcome);
  if (!result) return result.error();
  if (!finished) return finished.error();
  return 0;
}

Result<int> run_traced_command(const RunOptions& options) {
  if (Status s = check_common_preconditions(options.outputs); !s) return s.error();
  auto path = find_executable(options.command.front());
  if (!path) return path.error();
  auto prepared = prepare_binary(*path, *path, options.outputs.allow_unverified_release);
  if (!prepared) return prepared.error();

  // With the live view the terminal is the view's: the program reads
  // nothing from it and writes to --program-output, or nowhere.
  bool live_view = options.outputs.live_view == TraceOutputs::LiveView::kOn;
  Fd program_input, program_output;
  if (live_view) {
    program_input = Fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (program_input.get() < 0) return make_error("'/dev/null': {}", std::strerror(errno));
  }
  if (live_view || !options.program_output.empty()) {
    std::string path = options.program_output.empty() ? "/dev/null" : options.program_output;
    program_output = Fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (program_output.get() < 0) return make_error("'{}': cannot write: {}", path, std::strerror(errno));
  }

  // The child waits on `go` until the probes are in place, then execs; a
  // failed exec reports its errno through `status` (closed on success).
  int go_pipe[2], status_pipe[2];
  if (pipe2(go_pipe, O_CLOEXEC) != 0 || pipe2(status_pipe, O_CLOEXEC) != 0)
    return make_error("cannot create a pipe: {}", std::strerror(errno));
  block_stop_signals();
  pid_t child = fork();
  if (child < 0) return make_error("cannot fork: {}", std::strerror(errno));
  if (child == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    close(go_pipe[1]);
    close(status_pipe[0]);
    if (program_input.get() >= 0) dup2(program_input.get(), STDIN_FILENO);
    if (program_output.get() >= 0) {
      dup2(program_output.get(), STDOUT_FILENO);
      dup2(program_output.get(), STDERR_FILENO);
    }
    char go;
    if (read(go_pipe[0], &go, 1) != 1) _exit(127);  // gotrace gave up
    std::vector<char*> argv;
    for (const std::string& arg : options.command) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execv(path->c_str(), argv.data());
    int error = errno;
    (void)!write(status_pipe[1], &error, sizeof(error));
    _exit(127);
  }
  close(go_pipe[0]);
  close(status_pipe[1]);
  Fd go(go_pipe[1]), exec_status(status_pipe[0]);
  Fd pidfd(pidfd_open(child));

  TraceSession session(std::move(*prepared), child, *path, options.outputs, true);
  if (Status s = session.attach(*path); !s) {
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    return s.error();
  }
  (void)!write(go.get(), "g", 1);
  int exec_error = 0;
  if (read(exec_status.get(), &exec_error, sizeof(exec_error)) == sizeof(exec_error)) {
    waitpid(child, nullptr, 0);
    return make_error("cannot run '{}': {}", *path, std::strerror(exec_error));
  }
  // The program has been exec'd: its mappings say where it was loaded.
  if (auto process = inspect_process(child)) {
    auto translator = AddressTranslator::create(*process, session.binary().elf());
    if (translator) session.set_load_bias(translator->load_bias());
  }
  session.announce();
  program_input.reset();
  program_output.reset();
  if (live_view) session.open_view();
  // A Ctrl-C from the terminal reaches the program too, and tracing goes on
  // until it exits; a signal sent to gotrace alone is passed on to it.
  auto result = session.run(std::nullopt, pidfd.get(), [child](const signalfd_siginfo& info) {
    if (info.ssi_code != SI_KERNEL) kill(child, info.ssi_signo);
    return false;
  });
  SessionResult outcome = result ? *result : SessionResult{};
  // Whatever ended tracing, the terminal is given back before the wait.
  session.close_view();
  if (outcome.user_quit && !outcome.target_exited) {
    // q ends what `run` started, as Ctrl-C would; the program's status is
    // then gotrace's, as always.
    kill(child, SIGTERM);
    std::cerr << fmt::format("gotrace: quit from the live view: sent SIGTERM to pid {}\n", child);
  }
  int wait_status = 0;
  waitpid(child, &wait_status, 0);
  Status finished = session.finish(outcome);
  if (live_view && options.program_output.empty())
    std::cerr << "gotrace: the program's output was discarded while the live view had the terminal "
                 "(--program-output FILE keeps it)\n";
  if (!result) return result.error();
  if (!finished) return finished.error();
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

}  // namespace gotrace
