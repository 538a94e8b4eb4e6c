// What a trace's mode attaches, decided before anything is: the probes on
// every allocator entry point, the runtime's heap profiler, or both, and
// why in-use figures are missing when they are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"
#include "userspace/probe/probe_plan.h"
#include "userspace/trace/trace_options.h"

namespace gotrace {

struct ModeProbes {
  bool entry_points = true;  // every allocation
  bool heap = false;         // the heap profiler's samples and frees
  // runtime.MemProfileRate of a running target, read before attaching;
  // unknown for a program `run` is about to start, whose runtime sets it.
  std::optional<uint64_t> mem_profile_rate;
  std::string no_heap_reason;  // when !heap: why (the summary says it)
};

// `bias` is the running target's load bias, nullopt when it has not started.
// Fails when --heap cannot work: no hooks in the binary, or a running target
// whose heap profiling is off (the error says what to do instead).
Result<ModeProbes> choose_probes(const TraceOptions& options, const ProbePlan& plan, int pid,
                                 std::optional<uint64_t> bias, const std::string& display_path);

}  // namespace gotrace
