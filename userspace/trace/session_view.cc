// The session's side of the live view: opening and closing it, and the
// snapshots the event loop hands it. The loop copies figures only; each
// process's symbolizer is made on the view's thread, from what the first
// snapshot of the process brings.
#include <iostream>

#include "userspace/process/target_process.h"
#include "userspace/trace/trace_session.h"

namespace gotrace {

void TraceSession::open_view() {
  const ProcessTrace* first = primary();
  auto exchange = SnapshotExchange::create();
  if (!exchange) {
    std::cerr << fmt::format("gotrace: no live view: {}\n", exchange.error().message);
    return;
  }
  // A followed command that is not a Go program has no process of its own
  // in the trace: the view starts with the command's; a host or a cgroup
  // with no Go process yet, with what is watched.
  std::string watched = !scope_.discover ? root_path_
                        : scope_.cgroup  ? fmt::format("every Go process in cgroup {}", scope_.cgroup->path)
                                         : std::string("every Go process on the host");
  TraceInfo info = first ? TraceInfo{first->pid(), first->identity().path,
                                     first->plan().binary->build_info().go_version, options_.sample_rate, mode_note()}
                         : TraceInfo{root_pid_, watched, "-", options_.sample_rate, mode_note()};
  auto view = TerminalView::open(std::move(info), **exchange);
  if (!view) {
    std::cerr << fmt::format("gotrace: no live view: {}\n", view.error().message);
    return;
  }
  exchange_ = std::move(*exchange);
  view_ = std::move(*view);
}

SnapshotExchange* TraceSession::open_feed() {
  auto exchange = SnapshotExchange::create();
  if (!exchange) return nullptr;
  exchange_ = std::move(*exchange);
  return exchange_.get();
}

void TraceSession::publish_last() {
  if (exchange_ && !view_) publish_snapshot(true);
}

void TraceSession::close_view() {
  view_.reset();
  exchange_.reset();
}

void TraceSession::publish_snapshot(bool final) {
  auto snapshot = std::make_unique<TraceSnapshot>();
  std::vector<SnapshotExchange::ProcessSeen> seen = exchange_->seen();
  for (const auto& process : processes_) {
    SnapshotExchange::ProcessSeen view_has =
        process->slot() < seen.size() ? seen[process->slot()] : SnapshotExchange::ProcessSeen{};
    if (view_has.final) {
      // It ended, and the reader has its last figures: the agent's trace
      // never writes a profile at its end, so they are not needed again.
      if (!view_ && process->has_stacks()) process->forget_stacks();
      continue;
    }
    ProcessSnapshot& taken = snapshot->processes.emplace_back();
    const ProcessIdentity& identity = process->identity();
    taken.slot = process->slot();
    taken.pid = identity.pid;
    taken.name = identity.name;
    taken.path = identity.path;
    taken.go_version = process->plan().binary->build_info().go_version;
    taken.ended = process->ended();
    const StackAggregator& aggregator = process->aggregator();
    taken.stacks = take_snapshot(aggregator, view_has.first_unseen_stack(aggregator.generation()));
    if (auto counts = probe_->counts(process->slot())) taken.probe_counts = *counts;
    taken.container = identity.container;
    taken.events = aggregator.events();
    taken.heap_rate = process->heap_rate();
    taken.overhead = process->overhead();
    if (!view_has.introduced) {
      taken.make_symbolizer = [plan = process->shared_plan(), bias = process->bias(), path = identity.path] {
        return StackSymbolizer(*plan->binary, translator_for(*plan->binary, bias, path));
      };
      taken.make_profile = process->profile_maker();
    }
  }
  snapshot->elapsed = std::chrono::steady_clock::now() - start_;
  snapshot->final = final;
  snapshot->mode_note = mode_note();
  exchange_->publish(std::move(snapshot));
}

}  // namespace gotrace
