#include "userspace/trace/process_cost.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "userspace/probe/trap_cost.h"
#include "userspace/trace/overhead_guard.h"

namespace gotrace {

Result<std::unique_ptr<ProcessCostMeter>> ProcessCostMeter::start(int program_fd, std::string_view probed_instruction) {
  std::unique_ptr<ProcessCostMeter> meter(new ProcessCostMeter());
  meter->program_fd_ = program_fd;
  auto trap = measure_trap_cost(probed_instruction);
  if (!trap) return with_context(trap.error(), "cannot measure what a probe costs");
  meter->trap_ns_ = *trap;
  meter->last_cost_ns_ = *trap;
  int stats = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (stats < 0) return make_error("cannot time the BPF probe: {}", std::strerror(errno));
  meter->stats_ = Fd(stats);
  meter->cost_per_hit();
  return meter;
}

void ProcessCostMeter::add(uint32_t slot, int pid, uint64_t hits) {
  Process process;
  // A process whose clock cannot be had is not read.
  if (clock_getcpuclockid(pid, &process.clock) != 0 || !read_cpu_clock(process.clock, &process.cpu_ns)) return;
  process.hits = hits;
  process.time = std::chrono::steady_clock::now();
  processes_[slot] = process;
}

double ProcessCostMeter::cost_per_hit() {
  bpf_prog_info info{};
  uint32_t length = sizeof(info);
  if (bpf_obj_get_info_by_fd(program_fd_, &info, &length) != 0) return last_cost_ns_;
  uint64_t runs = info.run_cnt - runs_, run_ns = info.run_time_ns - run_ns_;
  runs_ = info.run_cnt;
  run_ns_ = info.run_time_ns;
  if (runs > 0) last_cost_ns_ = trap_ns_ + double(run_ns) / double(runs);
  return last_cost_ns_;
}

std::vector<ProcessCostMeter::Reading> ProcessCostMeter::check(std::chrono::steady_clock::time_point now,
                                                               const std::function<uint64_t(uint32_t)>& hits_of) {
  std::vector<Reading> readings;
  if (now - last_check_ < kInterval) return readings;
  last_check_ = now;
  double cost_ns = cost_per_hit();
  for (auto& [slot, process] : processes_) {
    uint64_t cpu_ns = 0;
    if (!read_cpu_clock(process.clock, &cpu_ns)) continue;  // gone: its exit is the session's to see
    if (std::chrono::nanoseconds(cpu_ns - process.cpu_ns) < kMinCpu) continue;  // the window grows
    uint64_t hits = hits_of(slot);
    double seconds = std::chrono::duration<double>(now - process.time).count();
    double overhead = probe_overhead(double(hits - process.hits) * cost_ns, double(cpu_ns - process.cpu_ns));
    readings.push_back({slot, overhead, seconds > 0 ? double(hits - process.hits) / seconds : 0});
    process.cpu_ns = cpu_ns;
    process.hits = hits;
    process.time = now;
  }
  return readings;
}

}  // namespace gotrace
