#include "userspace/agent/interval_publisher.h"

#include "userspace/export/pprof_writer.h"
#include "userspace/probe/probe_counters.h"

namespace gotrace {
namespace {

PprofMetadata interval_metadata(const ProcessInterval& interval, std::chrono::system_clock::time_point start,
                                std::chrono::system_clock::time_point end) {
  PprofMetadata metadata;
  metadata.time_nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count();
  metadata.duration_nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count();
  metadata.period = interval.heap_rate != 0 ? int64_t(interval.heap_rate) : 1;
  metadata.peak_inuse = false;
  std::string rate = interval.heap_rate != 0 ? fmt::format("MemProfileRate {}", interval.heap_rate)
                                             : "its MemProfileRate";
  metadata.comments = {
      fmt::format("gotrace agent: the allocations of pid {} ({}) in one interval that the runtime's heap profiler "
                  "sampled ({}), scaled to estimates as Go scales its heap profile",
                  interval.pid, interval.path, rate),
      "gotrace agent: inuse_objects and inuse_space are what was in use at the interval's end, of what was "
      "allocated while traced"};
  return metadata;
}

}  // namespace

void IntervalPublisher::publish(std::vector<ProcessInterval> intervals, std::chrono::system_clock::time_point start,
                                std::chrono::system_clock::time_point end) {
  for (ProcessInterval& interval : intervals) publish_one(interval, start, end);
  std::lock_guard lock(mutex_);
  ++figures_.intervals;
  if (dir_) figures_.files_removed = dir_->removed();
}

void IntervalPublisher::publish_one(ProcessInterval& interval, std::chrono::system_clock::time_point start,
                                    std::chrono::system_clock::time_point end) {
  ProcessFacts facts{interval.pid, interval.name, interval.path, interval.container, interval.go_version};
  Labels labels = labeler_.labels_of(facts);
  const std::string& service = labels.front().second;
  std::string what = fmt::format("{} pid {}", service, interval.pid);
  {
    std::lock_guard lock(mutex_);
    auto [figures, added] = figures_.processes.try_emplace(interval.slot);
    if (added) ++figures_.processes_seen;
    figures->second.service = service;
    figures->second.pid = interval.pid;
    figures->second.events = interval.events;
    figures->second.lost = total_dropped(interval.probe_counts);
    figures->second.overhead = interval.overhead;
    figures->second.allocated.count += interval.allocated.count;
    figures->second.allocated.bytes += interval.allocated.bytes;
    if (added) log_(fmt::format("tracing {} ({}, {}) as service {}", what, interval.path, interval.go_version, service));
  }
  if (interval.profile.samples.empty() && !interval.ended) return;  // a quiet interval: nothing to say
  PprofMetadata metadata = interval_metadata(interval, start, end);
  if (dir_) {
    auto file = encode_pprof(interval.profile, metadata);
    auto written = file ? dir_->write(service, interval.pid, start, *file) : Result<std::string>(file.error());
    std::lock_guard lock(mutex_);
    ++(written ? figures_.files_written : figures_.file_failures);
    if (!written) log_(fmt::format("{}: profile not written: {}", what, written.error().message));
  }
  if (push_) {
    // The backend makes a series of each set of sample labels: none, and
    // the type as the leaf frame.
    metadata.sample_labels = false;
    auto pushed = encode_pprof(interval.profile, metadata);
    if (pushed) push_(SeriesProfile{labels, std::move(*pushed), what});
    std::lock_guard lock(mutex_);
    if (!pushed) ++figures_.encode_failures;
  }
  std::lock_guard lock(mutex_);
  ++figures_.profiles;
  if (interval.ended) {
    figures_.processes.erase(interval.slot);
    log_(fmt::format("{}: traced no more (it exited or exec'd, or tracing cost it too much); its last profile "
                     "is out",
                     what));
  }
}

}  // namespace gotrace
