// `gotrace agent`: continuous profiling of a host's Go processes. Every Go
// process (or every one of a cgroup), and each that starts later, is traced
// through the runtime's own heap profiler, the cheapest way to have both
// allocation and in-use figures; every interval, each process's profile of
// the interval is written under --dir, pushed to Pyroscope (--push), or
// both, until SIGTERM or Ctrl-C, which flush the last interval.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "userspace/agent/pyroscope_push.h"
#include "userspace/agent/series_labels.h"
#include "userspace/trace/trace_options.h"

namespace gotrace {

inline constexpr std::chrono::seconds kDefaultAgentInterval{15};
inline constexpr uint64_t kDefaultDirMaxBytes = uint64_t(1) << 30;
inline constexpr uint64_t kDefaultPushQueueBytes = uint64_t(64) << 20;

struct AgentOptions {
  TraceOptions trace;  // the mode is the heap profiler's; max_overhead is per process
  std::chrono::nanoseconds interval = kDefaultAgentInterval;
  std::optional<std::chrono::nanoseconds> duration;  // -d: for tests and trials
  std::string cgroup;            // --cgroup: only its processes
  std::string dir;               // --dir: "" for no files
  uint64_t dir_max_bytes = kDefaultDirMaxBytes;
  std::optional<PushTarget> push;  // --push and its TLS and auth flags
  uint64_t push_queue_bytes = kDefaultPushQueueBytes;
  std::string health;            // --health ADDR: "" for none
  std::vector<ServiceRule> service_rules;
  Labels labels;                 // --label
};

// Runs until SIGTERM, SIGINT or the duration; returns the exit code.
Result<int> run_agent(const AgentOptions& options);

}  // namespace gotrace
