#include "userspace/trace/trace_mode.h"

#include <fmt/format.h>

#include "userspace/process/target_process.h"

namespace gotrace {

std::string heap_profiling_off(int pid) {
  return fmt::format("pid {}: the program's heap profiling is off (runtime.MemProfileRate is 0: it links neither "
                     "runtime/pprof nor net/http/pprof, or set the rate to 0), so the runtime samples nothing",
                     pid);
}

Result<ModeProbes> choose_probes(const TraceOptions& options, const ProbePlan& plan, int pid,
                                 std::optional<uint64_t> bias, const std::string& display_path) {
  ModeProbes probes;
  bool heap_mode = options.mode == TraceOptions::Mode::kHeap;
  probes.entry_points = !heap_mode;
  if (!plan.heap) {
    if (heap_mode) return make_error("'{}': --heap: {}; --exact traces every allocation", display_path, plan.heap_missing);
    probes.no_heap_reason = plan.heap_missing;
    return probes;
  }
  if (bias) {
    auto rate = read_target_word(pid, plan.heap->mem_profile_rate + *bias);
    if (!rate) return with_context(rate.error(), fmt::format("pid {}: cannot read runtime.MemProfileRate", pid));
    probes.mem_profile_rate = *rate;
    if (*rate == 0) {
      if (heap_mode)
        return make_error("--heap: {}; --exact or --sample trace it at a cost to the program, or build it with "
                          "`import _ \"net/http/pprof\"` (or runtime/pprof) to have it sample its allocations",
                          heap_profiling_off(pid));
      probes.no_heap_reason = heap_profiling_off(pid);
      return probes;
    }
  }
  probes.heap = true;
  return probes;
}

}  // namespace gotrace
