#include "userspace/agent/agent_metrics.h"

#include <unistd.h>

#include <fstream>

#include "userspace/agent/prometheus_text.h"

namespace gotrace {
namespace {

// The agent's resident memory, from /proc/self/statm; 0 when unreadable.
uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * uint64_t(sysconf(_SC_PAGESIZE));
}

void process_families(const AgentFigures& figures, PrometheusText& text) {
  auto labels = [](const ProcessFigures& process) {
    return MetricLabels{{"service", process.service}, {"pid", std::to_string(process.pid)}};
  };
  text.family("gotrace_agent_events_total", MetricType::counter,
              "Events the probe took from each process traced now (heap samples and their frees)");
  for (const auto& [slot, process] : figures.processes) text.sample(labels(process), process.events);
  text.family("gotrace_agent_lost_events_total", MetricType::counter,
              "Events of each process traced now that the probe could not deliver");
  for (const auto& [slot, process] : figures.processes) text.sample(labels(process), process.lost);
  text.family("gotrace_agent_overhead_ratio", MetricType::gauge,
              "What tracing costs each process, as a fraction of its own CPU time, as last measured");
  for (const auto& [slot, process] : figures.processes)
    if (process.overhead >= 0) text.sample(labels(process), process.overhead);
}

void push_families(const PushQueueStats& push, PrometheusText& text) {
  text.family("gotrace_agent_pushes_total", MetricType::counter, "Profiles the backend took");
  text.sample(push.sent);
  text.family("gotrace_agent_push_failures_total", MetricType::counter, "Pushes that failed and were retried");
  text.sample(push.retries);
  text.family("gotrace_agent_push_dropped_total", MetricType::counter,
              "Profiles dropped unsent: the oldest when the queue was full, and those left at shutdown");
  text.sample(push.dropped);
  text.family("gotrace_agent_push_rejected_total", MetricType::counter, "Profiles the backend refused for good");
  text.sample(push.rejected);
  text.family("gotrace_agent_push_queue_profiles", MetricType::gauge, "Profiles waiting to be pushed");
  text.sample(uint64_t(push.queued));
  text.family("gotrace_agent_push_queue_bytes", MetricType::gauge, "What the profiles waiting take");
  text.sample(push.queued_bytes);
  text.family("gotrace_agent_push_backing_off", MetricType::gauge,
              "1 while the last push failed and the next waits, else 0");
  text.sample(uint64_t(push.backing_off ? 1 : 0));
}

}  // namespace

std::string render_agent_metrics(const AgentFigures& figures, const PushQueueStats* push) {
  PrometheusText text;
  text.family("gotrace_agent_processes", MetricType::gauge, "Go processes traced now");
  text.sample(uint64_t(figures.processes.size()));
  text.family("gotrace_agent_processes_seen_total", MetricType::counter, "Go processes traced since the start");
  text.sample(figures.processes_seen);
  process_families(figures, text);
  for (auto [name, help, value] :
       {std::tuple{"gotrace_agent_intervals_total", "Intervals ended", figures.intervals},
        {"gotrace_agent_profiles_total", "Profiles made, one a process an interval", figures.profiles},
        {"gotrace_agent_files_written_total", "Profiles written under --dir", figures.files_written},
        {"gotrace_agent_file_failures_total", "Profiles that could not be written under --dir", figures.file_failures},
        {"gotrace_agent_files_removed_total", "Old profiles removed by --dir-max-size", figures.files_removed}}) {
    text.family(name, MetricType::counter, help);
    text.sample(value);
  }
  if (push) push_families(*push, text);
  text.family("gotrace_agent_resident_bytes", MetricType::gauge, "The agent's own resident memory");
  text.sample(resident_bytes());
  return text.take();
}

std::string agent_summary(const AgentFigures& figures, const PushQueueStats* push) {
  std::string summary = fmt::format("{} process{} traced, {} interval{}, {} profile{}", figures.processes_seen,
                                    figures.processes_seen == 1 ? "" : "es", figures.intervals,
                                    figures.intervals == 1 ? "" : "s", figures.profiles,
                                    figures.profiles == 1 ? "" : "s");
  if (push)
    summary += fmt::format("; {} pushed, {} dropped unsent, {} rejected, {} failed attempts", push->sent,
                           push->dropped, push->rejected, push->retries);
  if (figures.files_written + figures.file_failures > 0)
    summary += fmt::format("; {} files written, {} failed, {} removed by the cap", figures.files_written,
                           figures.file_failures, figures.files_removed);
  return summary;
}

}  // namespace gotrace
