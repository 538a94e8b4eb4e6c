#include "userspace/trace/overhead_guard.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "userspace/probe/trap_cost.h"

namespace gotrace {

double probe_overhead(double probes_ns, double used_ns) {
  double untraced_ns = std::max(used_ns - probes_ns, std::max(used_ns, 1000.0) / 100);
  return probes_ns / untraced_ns;
}

bool read_cpu_clock(clockid_t clock, uint64_t* ns) {
  timespec cpu{};
  if (clock_gettime(clock, &cpu) != 0) return false;
  *ns = uint64_t(cpu.tv_sec) * 1000000000 + uint64_t(cpu.tv_nsec);
  return true;
}

Result<std::unique_ptr<OverheadGuard>> OverheadGuard::start(const std::vector<int>& pids, double budget,
                                                            int program_fd, std::string_view probed_instruction) {
  std::unique_ptr<OverheadGuard> guard(new OverheadGuard());
  guard->budget_ = budget;
  guard->program_fd_ = program_fd;
  for (int pid : pids) {
    TargetClock target;
    if (clock_getcpuclockid(pid, &target.clock) != 0)
      return make_error("pid {}: cannot read its CPU time: {}", pid, std::strerror(errno));
    guard->target_clocks_.push_back(target);
  }
  auto trap = measure_trap_cost(probed_instruction);
  if (!trap) return with_context(trap.error(), "cannot measure what a probe costs");
  guard->trap_ns_ = *trap;
  int stats = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (stats < 0) return make_error("cannot time the BPF probe: {}", std::strerror(errno));
  guard->stats_ = Fd(stats);
  auto now = guard->read(std::chrono::steady_clock::now());
  if (!now) return now.error();
  guard->first_ = guard->window_start_ = guard->last_ = *now;
  return guard;
}

Result<OverheadGuard::Counters> OverheadGuard::read(std::chrono::steady_clock::time_point now) const {
  Counters counters;
  counters.time = now;
  bpf_prog_info info{};
  uint32_t length = sizeof(info);
  if (bpf_obj_get_info_by_fd(program_fd_, &info, &length) != 0)
    return make_error("cannot read the BPF probe's statistics: {}", std::strerror(errno));
  counters.runs = info.run_cnt;
  counters.run_ns = info.run_time_ns;
  for (TargetClock& target : target_clocks_) {
    read_cpu_clock(target.clock, &target.last_ns);  // a process gone keeps its last reading
    counters.target_cpu_ns += target.last_ns;
  }
  return counters;
}

void OverheadGuard::add_process(int pid) {
  TargetClock target;
  // A process whose clock cannot be had is not counted: the guard then
  // judges by the others.
  if (clock_getcpuclockid(pid, &target.clock) != 0) return;
  read_cpu_clock(target.clock, &target.last_ns);
  // Its CPU time so far was not traced: the sums start from here for it.
  for (Counters* counters : {&first_, &window_start_, &last_}) counters->target_cpu_ns += target.last_ns;
  target_clocks_.push_back(target);
}

OverheadReading OverheadGuard::between(const Counters& from, const Counters& to) const {
  OverheadReading reading;
  double hits = double(to.runs - from.runs);
  double seconds = std::chrono::duration<double>(to.time - from.time).count();
  if (hits == 0 || seconds <= 0) return reading;
  reading.hits_per_second = hits / seconds;
  reading.cost_ns = trap_ns_ + double(to.run_ns - from.run_ns) / hits;
  reading.overhead = probe_overhead(hits * reading.cost_ns, double(to.target_cpu_ns - from.target_cpu_ns));
  return reading;
}

std::optional<OverheadReading> OverheadGuard::check(std::chrono::steady_clock::time_point now) {
  if (now - last_.time < kInterval) return std::nullopt;
  auto counters = read(now);
  if (!counters) return std::nullopt;
  last_ = *counters;
  // The window grows until the target used enough CPU to judge by.
  if (std::chrono::nanoseconds(last_.target_cpu_ns - window_start_.target_cpu_ns) < kMinTargetCpu) return std::nullopt;
  OverheadReading reading = between(window_start_, last_);
  window_start_ = last_;
  if (reading.overhead > budget_) return reading;
  return std::nullopt;
}

OverheadReading OverheadGuard::overall() const { return between(first_, last_); }

}  // namespace gotrace
