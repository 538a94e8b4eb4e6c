// What gotrace will probe in a Go binary, decided before anything is
// attached: whether the release can be traced at all, the allocator's entry
// points (entry_points.h) and where in each the probe goes (probe_site.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "symbolizer/go_binary.h"
#include "userspace/probe/alloc_probe.h"
#include "userspace/probe/heap_profiler_hooks.h"
#include "userspace/probe/probe_site.h"

namespace gotrace {

struct ProbePlan {
  std::unique_ptr<GoBinary> binary;
  std::vector<ProbeSite> sites;  // runtime.mallocgc first
  FunctionInfo mallocgc;
  std::optional<FunctionInfo> goexit;  // every goroutine's root
  // The runtime's heap profiler, when gotrace can watch it; else why not.
  std::optional<HeapProfilerHooks> heap;
  std::string heap_missing;
};

// Opens the binary at `open_path` (named `display_path` in errors) and plans
// its probes. A release older than the register ABI is refused; so are a
// release newer than gotrace is verified on and a binary with an allocation
// path gotrace does not understand, unless `allow_unverified` (then a
// warning on stderr names what is not counted).
Result<ProbePlan> plan_probes(const std::string& open_path, const std::string& display_path, bool allow_unverified);

}  // namespace gotrace
