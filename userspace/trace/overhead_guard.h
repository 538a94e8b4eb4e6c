// What exact tracing costs the target, against a budget (--max-overhead).
//
// Every allocation the probe records costs the target a trap into the
// kernel and the BPF program's run: 1 to 2 µs against an allocation of
// 20 to 50 ns. The guard multiplies the probe's hits in an interval by the
// cost of one hit, the trap (measured on this machine at start:
// probe/trap_cost.h) plus the program's average run time (the kernel's BPF
// statistics, on while the guard lives), and sets that against the CPU time
// the target used in the same interval, less the probes' own share: the
// fraction of CPU the target would not have spent untraced.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "base/fd.h"
#include "base/result.h"

namespace gotrace {

struct OverheadReading {
  double overhead = 0;         // probe time over the target's untraced CPU time
  double hits_per_second = 0;
  double cost_ns = 0;          // of one hit: the trap and the program
};

// What probes that took `probes_ns` cost a process that used `used_ns` of
// CPU in the same window: their time over what it would have used
// untraced. The process's CPU time holds the probes' own; estimated probe
// time above it (the trap timed high on a busy machine) says no more than
// that the probes took nearly all of it: at most 100 times the rest, then.
double probe_overhead(double probes_ns, double used_ns);
// A CPU clock's reading in nanoseconds; false when it cannot be read (its
// process is gone).
bool read_cpu_clock(clockid_t clock, uint64_t* ns);

class OverheadGuard {
 public:
  // How often the figures are read; a decision needs at least kMinTargetCpu
  // of the target's CPU time, so that a nearly idle program (whose few
  // allocations cost nothing worth saving) is not judged on noise.
  static constexpr std::chrono::milliseconds kInterval{250};
  static constexpr std::chrono::milliseconds kMinTargetCpu{20};

  // Guards the traced processes `pids` (their CPU time summed): `program_fd`
  // is the allocation probe's program; `probed_instruction` what its probes
  // sit on. Measures the trap (about 30 ms).
  static Result<std::unique_ptr<OverheadGuard>> start(const std::vector<int>& pids, double budget, int program_fd,
                                                      std::string_view probed_instruction);
  // A process traced from now on counts too.
  void add_process(int pid);

  // Called on every turn of the event loop; reads the figures once an
  // interval is over, and returns them when they exceed the budget.
  std::optional<OverheadReading> check(std::chrono::steady_clock::time_point now);
  // The figures of the whole time the guard watched, for the summary.
  OverheadReading overall() const;
  double trap_ns() const { return trap_ns_; }
  double budget() const { return budget_; }

 private:
  struct Counters {
    uint64_t runs = 0, run_ns = 0, target_cpu_ns = 0;
    std::chrono::steady_clock::time_point time;
  };
  OverheadGuard() = default;
  Result<Counters> read(std::chrono::steady_clock::time_point now) const;
  OverheadReading between(const Counters& from, const Counters& to) const;

  // A traced process's CPU clock, and the last time it read: a process
  // that exited keeps its last reading in the sum.
  struct TargetClock {
    clockid_t clock{};
    uint64_t last_ns = 0;
  };
  Fd stats_;  // holds the kernel's BPF run-time statistics on
  int program_fd_ = -1;
  mutable std::vector<TargetClock> target_clocks_;
  double budget_ = 0;
  double trap_ns_ = 0;
  Counters first_, window_start_, last_;
};

}  // namespace gotrace
