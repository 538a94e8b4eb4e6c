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

// Why the runtime samples nothing, if it does not: nothing in the binary to
// probe, a linker that turned heap profiling off (all `run` can know before
// the program starts), or a running program whose rate is 0. Fills in the
// rate it read.
Result<std::optional<std::string>> why_no_heap_samples(const ProbePlan& plan, int pid, std::optional<uint64_t> bias,
                                                       const std::string& display_path, ModeProbes* probes) {
  if (!plan.heap) return std::optional<std::string>(plan.heap_missing);
  if (!bias) {
    if (links_heap_profiler(*plan.binary)) return std::optional<std::string>();
    return std::optional<std::string>(fmt::format(
        "'{}' links neither runtime/pprof nor net/http/pprof: its heap profiling is off (the linker set "
        "runtime.disableMemoryProfiling), so the runtime samples nothing",
        display_path));
  }
  auto rate = read_target_word(pid, plan.heap->mem_profile_rate + *bias);
  if (!rate) return with_context(rate.error(), fmt::format("pid {}: cannot read runtime.MemProfileRate", pid));
  probes->mem_profile_rate = *rate;
  if (*rate != 0) return std::optional<std::string>();
  return std::optional<std::string>(
      fmt::format("pid {}: the program's heap profiling is off (runtime.MemProfileRate is 0: it links neither "
                  "runtime/pprof nor net/http/pprof, or set the rate to 0), so the runtime samples nothing",
                  pid));
}

}  // namespace

Result<ModeProbes> choose_probes(const TraceOptions& options, const ProbePlan& plan, int pid,
                                 std::optional<uint64_t> bias, const std::string& display_path) {
  ModeProbes probes;
  bool heap_mode = options.mode == TraceOptions::Mode::kHeap;
  probes.entry_points = !heap_mode;
  auto off = why_no_heap_samples(plan, pid, bias, display_path, &probes);
  if (!off) return off.error();
  if (!*off) {
    probes.heap = true;
    return probes;
  }
  if (heap_mode)
    return make_error("--heap: {}; --exact or --sample trace it at a cost to the program{}", **off,
                      plan.heap ? ", or build it with `import _ \"net/http/pprof\"` (or runtime/pprof) to have it "
                                  "sample its allocations"
                                : "");
  probes.no_heap_reason = std::move(**off);
  return probes;
}

}  // namespace gotrace
