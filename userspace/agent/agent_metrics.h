// The agent's own figures as its --health endpoint serves them (Prometheus'
// text format), and as its last line on stderr sums them up.
//
// Families, each prefixed gotrace_agent_:
//   processes                      gauge    traced now
//   processes_seen_total           counter  ever traced
//   events_total{service,pid}      counter  the probe's events of each process traced now
//   lost_events_total{service,pid} counter  events the probe could not deliver
//   overhead_ratio{service,pid}    gauge    what tracing costs the process, a fraction of its CPU (when measured)
//   intervals_total, profiles_total, files_written_total, file_failures_total, files_removed_total
//   pushes_total                   counter  profiles the backend took
//   push_failures_total            counter  failed attempts (retried)
//   push_dropped_total             counter  profiles dropped unsent (queue full, or left at shutdown)
//   push_rejected_total            counter  profiles the backend refused for good
//   push_queue_profiles, push_queue_bytes, push_backing_off   gauges
//   resident_bytes                 gauge    the agent's own resident memory
#pragma once

#include <string>

#include "userspace/agent/interval_publisher.h"
#include "userspace/agent/push_queue.h"

namespace gotrace {

// `queue` is null without --push.
std::string render_agent_metrics(const AgentFigures& figures, const PushQueueStats* push);

// "12 intervals, 48 profiles; 48 pushed, 0 dropped, 0 rejected; 48 files"
std::string agent_summary(const AgentFigures& figures, const PushQueueStats* push);

}  // namespace gotrace
