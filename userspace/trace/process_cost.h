// What tracing costs each traced process, for the agent, which traces every
// process of a host through the runtime's heap profiler and must never make
// one of them pay much for it.
//
// The heap profiler's probes fire once per sampled allocation (one per
// MemProfileRate bytes, 512 KiB by default) and per free of a sampled
// object: next to nothing, unless a program sets a low rate (1 samples
// every allocation). Each hit costs the process the trap (measured at the
// start, probe/trap_cost.h) and the BPF program's run (the kernel's BPF
// statistics, averaged over every process). A process's cost is its hits
// times that, against the CPU time it used in the same window, less the
// probes' own share, as the overhead guard reckons exact tracing's
// (overhead_guard.h).
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string_view>
#include <vector>

#include "base/fd.h"
#include "base/result.h"

namespace gotrace {

class ProcessCostMeter {
 public:
  // How often each process is read; a reading needs at least kMinCpu of
  // its CPU time, so that an idle process is not judged on noise.
  static constexpr std::chrono::seconds kInterval{1};
  static constexpr std::chrono::milliseconds kMinCpu{20};

  // `program_fd` is the probe's program; `probed_instruction` the kind of
  // instruction its probes sit on (for the trap). Measures the trap.
  static Result<std::unique_ptr<ProcessCostMeter>> start(int program_fd, std::string_view probed_instruction);

  // Process `slot` (`pid`) is read from now on, from `hits` hits so far.
  void add(uint32_t slot, int pid, uint64_t hits);
  void remove(uint32_t slot) { processes_.erase(slot); }

  struct Reading {
    uint32_t slot = 0;
    double overhead = 0;         // probe time over the process's untraced CPU time
    double hits_per_second = 0;
  };
  // Once an interval is over: a reading for each process that used enough
  // CPU since its last. `hits_of(slot)` is the probe's hits in it so far.
  std::vector<Reading> check(std::chrono::steady_clock::time_point now,
                             const std::function<uint64_t(uint32_t)>& hits_of);

 private:
  ProcessCostMeter() = default;
  struct Process {
    clockid_t clock{};
    uint64_t cpu_ns = 0, hits = 0;
    std::chrono::steady_clock::time_point time;
  };
  // Average nanoseconds of one hit since the last call: the trap and the program.
  double cost_per_hit();

  Fd stats_;  // holds the kernel's BPF run-time statistics on
  int program_fd_ = -1;
  double trap_ns_ = 0;
  uint64_t runs_ = 0, run_ns_ = 0;
  double last_cost_ns_ = 0;
  std::chrono::steady_clock::time_point last_check_{};
  std::map<uint32_t, Process> processes_;
};

}  // namespace gotrace
