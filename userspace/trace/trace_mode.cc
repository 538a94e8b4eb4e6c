#include "userspace/trace/trace_mode.h"

#include <fmt/format.h>

#include "userspace/process/target_process.h"

namespace gotrace {

namespace {

// Whether the linker left the runtime's heap profiler on: it turns it off
// (runtime.disableMemoryProfiling, and MemProfileRate 0 as the program
// starts) when nothing reaches runtime.MemProfile, or from Go 1.23
// runtime.memProfileInternal, so that neither is in the binary then.
bool links_heap_profiler(const GoBinary& binary) {
  return binary.find_function("runtime.memProfileInternal") || binary.find_function("runtime.MemProfile");
}

}  // namespace

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
  if (!bias && !links_heap_profiler(*plan.binary)) {
    std::string off = fmt::format("'{}' links neither runtime/pprof nor net/http/pprof: its heap profiling is off "
                                  "(the linker set runtime.disableMemoryProfiling), so the runtime samples nothing",
                                  display_path);
    if (heap_mode)
      return make_error("--heap: {}; --exact or --sample trace it at a cost to the program, or build it with "
                        "`import _ \"net/http/pprof\"` (or runtime/pprof) to have it sample its allocations",
                        off);
    probes.no_heap_reason = off;
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
