// What the agent does with each process's interval: a profile file under
// --dir, a push to the backend (--push), and the figures its health
// endpoint reports. Runs on the agent's own thread, never the event loop's.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "userspace/agent/interval_profiles.h"
#include "userspace/agent/profile_directory.h"
#include "userspace/agent/series_labels.h"

namespace gotrace {

// One profile for the backend: its series' labels and the gzipped pprof.
struct SeriesProfile {
  Labels labels;
  std::string pprof;
  std::string what;  // for messages: "orders pid 1234"
};

// A traced process as the health endpoint reports it.
struct ProcessFigures {
  std::string service;
  int pid = 0;
  uint64_t events = 0;       // taken from the probe
  uint64_t lost = 0;         // events the probe could not deliver
  double overhead = -1;      // as last measured; negative when not
  AllocationTotals allocated;  // since tracing began, all intervals
};

// The agent's own figures, read by the health endpoint's thread.
struct AgentFigures {
  std::map<uint32_t, ProcessFigures> processes;  // by slot: those traced now
  uint64_t processes_seen = 0;     // ever traced
  uint64_t intervals = 0;          // ended
  uint64_t profiles = 0;           // made (one a process an interval)
  uint64_t files_written = 0;
  uint64_t file_failures = 0;
  uint64_t files_removed = 0;      // by the --dir cap
  uint64_t encode_failures = 0;
};

class IntervalPublisher {
 public:
  // `push` takes each profile for the backend (none without --push); `dir`
  // keeps files (none without --dir). `log` gets a line for what the user
  // should know (a process traced, a file that failed).
  IntervalPublisher(SeriesLabeler labeler, std::optional<ProfileDirectory> dir,
                    std::function<void(SeriesProfile)> push, std::function<void(const std::string&)> log)
      : labeler_(std::move(labeler)), dir_(std::move(dir)), push_(std::move(push)), log_(std::move(log)) {}

  // The intervals of one tick, `start` to `end`.
  void publish(std::vector<ProcessInterval> intervals, std::chrono::system_clock::time_point start,
               std::chrono::system_clock::time_point end);

  AgentFigures figures() const {
    std::lock_guard lock(mutex_);
    return figures_;
  }

 private:
  void publish_one(ProcessInterval& interval, std::chrono::system_clock::time_point start,
                   std::chrono::system_clock::time_point end);

  SeriesLabeler labeler_;
  std::optional<ProfileDirectory> dir_;
  std::function<void(SeriesProfile)> push_;
  std::function<void(const std::string&)> log_;
  mutable std::mutex mutex_;  // guards figures_
  AgentFigures figures_;
};

}  // namespace gotrace
