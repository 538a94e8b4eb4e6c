// How processes join a trace: a running process `attach` names, the child
// `run` started, and each new image a followed program execs, which the
// process watcher stops before its first instruction until it is probed.
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include <filesystem>
#include <fstream>
#include <utility>
#include <iostream>

#include "userspace/process/process_scope.h"
#include "userspace/process/target_process.h"
#include "userspace/trace/trace_session.h"

namespace gotrace {
namespace {

ProcessIdentity identity_of(pid_t pid, const std::string& path) {
  return ProcessIdentity{pid, path, std::filesystem::path(path).filename().string(), cgroup_of(pid)};
}

// Why a binary cannot be traced, as a note says it: the planner's words,
// shortened for the common case of a program that is not Go at all.
std::string not_traced_reason(const Error& error) {
  if (error.message.find("not a Go binary") != std::string::npos) return "not a Go program";
  return error.message;
}

}  // namespace

Result<std::shared_ptr<const ProbePlan>> TraceSession::plan_for(const std::string& open_path,
                                                                const std::string& path) {
  struct stat file;
  if (stat(open_path.c_str(), &file) != 0) return make_error("'{}': {}", path, std::strerror(errno));
  auto key = std::pair{file.st_dev, file.st_ino};
  if (auto known = plans_.find(key); known != plans_.end()) return known->second;
  Result<std::shared_ptr<const ProbePlan>> planned = Error{""};
  auto plan = plan_probes(open_path, path, options_.allow_unverified_release);
  if (plan)
    planned = std::shared_ptr<const ProbePlan>(std::make_shared<ProbePlan>(std::move(*plan)));
  else
    planned = plan.error();
  plans_.emplace(key, planned);
  return planned;
}

Status TraceSession::start_process(pid_t pid, ProcessIdentity identity, std::shared_ptr<const ProbePlan> plan,
                                   uint64_t bias, std::optional<uint64_t> running_bias,
                                   const std::string& attach_path) {
  if (processes_.size() >= scope_.max_processes)
    return make_error("pid {}: the trace holds {} processes at most", pid, scope_.max_processes);
  // Once the overhead guard has fallen back, a new process gets the heap
  // profiler's probes alone, as the others have now.
  TraceOptions options = options_;
  if (!entry_points_ && options.mode != TraceOptions::Mode::kHeap) options.mode = TraceOptions::Mode::kHeap;
  auto probes = choose_probes(options, *plan, pid, running_bias, identity.path);
  if (!probes) return probes.error();
  auto pidfd = open_pidfd(pid);
  if (!pidfd) return pidfd.error();
  uint32_t slot = uint32_t(processes_.size());
  auto process = std::make_unique<ProcessTrace>(slot, std::move(identity), std::move(plan), bias, *probes, options_);
  if (Status s = probe_->add_process(process->probe_request(attach_path)); !s) return s;
  process->set_pidfd(std::move(*pidfd));
  heap_probed_ |= probes->heap;
  processes_.push_back(std::move(process));
  if (options_.guard_each_process) meter_cost(*processes_.back());
  if (processes_.size() == 1 && options_.mode == TraceOptions::Mode::kGuarded) return start_guard();
  if (guard_) guard_->add_process(pid);
  return Ok{};
}

void TraceSession::meter_cost(const ProcessTrace& process) {
  if (!cost_meter_ && !cost_meter_failed_) {
    auto meter = ProcessCostMeter::start(probe_->record_program_fd(), process.plan().sites.front().instruction);
    if (!meter) {
      // Tracing goes on, as --heap does: what it costs is then unknown.
      std::cerr << fmt::format("gotrace: each process's overhead is not measured, nor guarded: {}\n",
                               meter.error().message);
      cost_meter_failed_ = true;
      return;
    }
    cost_meter_ = std::move(*meter);
  }
  if (cost_meter_) cost_meter_->add(process.slot(), process.pid(), 0);
}

void TraceSession::check_costs() {
  if (!cost_meter_) return;
  auto readings = cost_meter_->check(std::chrono::steady_clock::now(), [this](uint32_t slot) {
    return slot < processes_.size() && processes_[slot]->has_stacks() ? processes_[slot]->aggregator().events() : 0;
  });
  for (const ProcessCostMeter::Reading& reading : readings) {
    ProcessTrace& process = *processes_[reading.slot];
    if (process.ended()) {
      cost_meter_->remove(reading.slot);
      continue;
    }
    process.set_overhead(reading.overhead);
    if (reading.overhead <= options_.max_overhead) continue;
    std::string rate = process.heap_rate() != 0 ? fmt::format(" at MemProfileRate {}", process.heap_rate()) : "";
    std::cerr << fmt::format("gotrace: pid {} ({}): its heap profiler's samples{} cost it {:.1f}% of its CPU "
                             "({:.0f} a second), over --max-overhead {:g}%: no longer traced\n",
                             process.pid(), process.identity().name, rate, reading.overhead * 100,
                             reading.hits_per_second, options_.max_overhead * 100);
    process.end_by_guard(std::chrono::steady_clock::now());
    guarded_out_.insert(process.pid());
    probe_->remove_process(process.slot());
    cost_meter_->remove(reading.slot);
  }
}

Status TraceSession::attach_running(pid_t id) {
  auto pid = process_of(id, "tracing the process", std::cerr);
  if (!pid) return pid.error();
  if (auto missing = missing_ptrace_privilege(*pid)) return Error{*missing};
  auto process = inspect_process(*pid);
  if (!process) return process.error();
  auto pinned = pin_executable(*process);
  if (!pinned) return pinned.error();
  auto plan = plan_for(pinned->path, process->path);
  if (!plan) return plan.error();
  auto translator = AddressTranslator::create(*process, (*plan)->binary->elf());
  if (!translator) return translator.error();
  uint64_t bias = translator->load_bias();
  // Watched first: from here the process watcher sees an exec; one before
  // it, check_still_runs sees.
  if (Status s = probe_->watch(*pid, 0); !s) return s;
  if (Status s = start_process(*pid, identity_of(*pid, process->path), *plan, bias, bias, pinned->path); !s) return s;
  return check_still_runs(*pid, *pinned);
}

Status TraceSession::attach_scope() {
  auto pids = scope_.cgroup ? processes_in(*scope_.cgroup) : running_processes();
  if (!pids) return pids.error();
  for (pid_t pid : *pids) attach_found(pid);
  return Ok{};
}

void TraceSession::attach_found(pid_t pid) {
  if (pid == getpid()) return;
  // Found again when the scope is looked over after lost exec records.
  for (const auto& process : processes_)
    if (process->pid() == pid && !process->ended()) return;
  if (guarded_out_.count(pid)) return;  // too costly to trace, and runs on
  // Most processes of a host run a program already seen: a stat says so,
  // where attaching would read the process first.
  struct stat file;
  if (stat(fmt::format("/proc/{}/exe", pid).c_str(), &file) != 0) return;  // gone, or a kernel thread
  auto known = plans_.find(std::pair{file.st_dev, file.st_ino});
  if (known != plans_.end() && !known->second) return;  // noted when first seen
  Status attached = attach_running(pid);
  if (attached || kill(pid, 0) != 0) return;  // traced, or gone meanwhile
  std::string reason = not_traced_reason(attached.error());
  if (reason == "not a Go program") return;   // the host's other programs are none of the trace's business
  auto program = current_program(pid);
  note_not_traced(pid, program ? *program : "?", reason);
}

Status TraceSession::trace_from_exec(pid_t pid, std::shared_ptr<const ProbePlan> plan, const std::string& path) {
  struct stat file;
  if (stat(path.c_str(), &file) != 0) return make_error("'{}': {}", path, std::strerror(errno));
  if (plan) plans_.emplace(std::pair{file.st_dev, file.st_ino}, std::move(plan));
  root_pid_ = pid;
  root_path_ = path;
  root_exec_pending_ = true;
  return probe_->watch(pid, GOTRACE_WATCH_EXEC | (scope_.follow ? GOTRACE_WATCH_CHILDREN : 0));
}

Status TraceSession::wait_for_first_process(int pidfd) {
  // The exec's record may come a moment after the exec's success is known.
  Fd epoll(epoll_create1(EPOLL_CLOEXEC));
  for (int fd : {probe_->event_fd(), pidfd}) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    if (epoll.get() < 0 || epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &event) != 0)
      return make_error("cannot wait for the program's exec: {}", std::strerror(errno));
  }
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       std::chrono::steady_clock::now() < deadline;) {
    epoll_event ready;
    epoll_wait(epoll.get(), &ready, 1, int(AllocProbe::kDrainInterval.count()));
    if (auto consumed = probe_->consume(); !consumed) return consumed.error();
    for (pid_t pid : std::exchange(stopped_, {}))
      if (Status s = take_stopped(pid); !s) return s;
    if (root_failed_) return *root_failed_;
    if (!root_exec_pending_) return Ok{};
  }
  return make_error("pid {}: the program's exec was not seen within 10 s", root_pid_);
}

Status TraceSession::take_stopped(pid_t pid) {
  bool root = pid == root_pid_ && root_exec_pending_;
  auto process = inspect_process(pid);
  Status started = Ok{};
  std::string path = process ? process->path : "?";
  if (!process) {
    started = process.error();
  } else if (auto plan = plan_for(process->open_path, process->path); !plan) {
    started = plan.error();
  } else if (auto translator = AddressTranslator::create(*process, (*plan)->binary->elf()); !translator) {
    started = translator.error();
  } else {
    // Stopped at its exec, the runtime has not started: its heap-profile
    // rate is not the one it will run with.
    started = start_process(pid, identity_of(pid, process->path), *plan, translator->load_bias(), std::nullopt,
                            process->open_path);
  }
  if (root) {
    root_exec_pending_ = false;
    // Not followed, the program's later execs end its trace.
    if (!scope_.follow)
      if (Status s = probe_->watch(pid, 0); !s && started) started = s;
    if (!started && scope_.follow) {
      note_not_traced(pid, path, not_traced_reason(started.error()));
    } else if (!started) {
      // The program was to be traced from its first instruction: it does not
      // run untraced.
      kill(pid, SIGKILL);
      probe_->resume(pid);
      root_failed_ = started.error();
      return Ok{};
    }
  } else if (!started) {
    note_not_traced(pid, path, not_traced_reason(started.error()));
  }
  probe_->resume(pid);
  return Ok{};
}

void TraceSession::note_not_traced(pid_t pid, const std::string& path, const std::string& why) {
  // Once a program: a build runs some program hundreds of times.
  if (!not_traced_programs_.insert(path).second) return;
  std::string name = std::filesystem::path(path).filename().string();
  std::cerr << fmt::format("gotrace: pid {} ({}): not traced: {}\n", pid, name, why);
}

}  // namespace gotrace
