// A heap-profile sample made to look like what exact tracing records for
// the same allocation, so that the two modes, and the two halves of a trace
// the overhead guard switched, give the same stacks and types.
//
// runtime.profilealloc runs inside the allocator: its stack starts with the
// allocator's own frames (mallocgc, the size class's function it hands the
// allocation to, a size-specialized entry point called directly), which
// exact tracing never sees, as its probe sits at the entry point the code
// called. Those frames are cut up to the outermost entry point. The probe
// is not handed the type either: the callers' code says which type they
// passed (probe/allocation_types.h).
#pragma once

#include <cstdint>
#include <unordered_map>
#include <unordered_set>

#include "bpf/gotrace_abi.h"
#include "userspace/probe/allocation_types.h"
#include "userspace/probe/probe_plan.h"
#include "userspace/profile/profile.h"

namespace gotrace {

class HeapSampleShaper {
 public:
  explicit HeapSampleShaper(const ProbePlan& plan);

  // Cuts the allocator's frames from a GOTRACE_EVENT_HEAP_SAMPLE event and
  // fills in its type, unless the probe knew it (GOTRACE_EVENT_TYPE_KNOWN):
  // a runtime address, 0 for none, kUnknownTypeAddress;
  // `bias` is the target's load bias.
  void shape(gotrace_alloc_event& event, uint64_t bias);

 private:
  // Frames at the leaf end searched for the allocator's: profilealloc's
  // callers are at most mallocgc, the function it dispatches to, and a
  // size-specialized entry point.
  static constexpr uint32_t kAllocatorFrames = 6;

  const GoBinary& binary_;
  std::unordered_map<uint64_t, ArgumentRegister> entry_points_;  // link-time entry → its type's register
  AllocationTypes types_;
};

}  // namespace gotrace
