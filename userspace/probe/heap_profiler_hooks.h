// Where the runtime's own heap profiler can be watched in a Go binary, for
// --heap: the runtime samples allocations for its heap profile (one per
// MemProfileRate bytes), calls runtime.profilealloc(mp, x, size) for each
// sampled one, and runtime.freeSpecial(s, p, size) during sweep for every
// special record of a freed object, the profile's among them
// (s.kind == _KindSpecialProfile). Found before anything is attached; the
// binary is untrusted input, so every failure is a one-line reason.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"
#include "symbolizer/go_binary.h"
#include "userspace/probe/probe_site.h"

namespace gotrace {

struct HeapProfilerHooks {
  ProbeSite sample;  // runtime.profilealloc, after its stack-bound check (RAX mp, RBX x, RCX size)
  ProbeSite free;    // runtime.freeSpecial, the same (RAX s, RBX p, RCX size)
  // runtime.mProf_Flush, called at every collection's mark termination (and
  // once more where a collection swept everything at once): the heap
  // profile's cycles, by which an object sampled two cycles ago is known to
  // be either freed or alive.
  ProbeSite cycle;
  uint64_t mem_profile_rate = 0;     // link-time address of runtime.MemProfileRate (an int, 8 bytes)
  uint32_t special_kind_offset = 0;  // offset of runtime.special.kind
  uint8_t special_profile_kind = 0;  // the value of _KindSpecialProfile in this release
  std::string how_found;             // for gotrace info and -v: how MemProfileRate and the layout were found
};

// The layout of runtime.special (mheap.go) in a range of releases.
struct SpecialLayout {
  GoRelease since;               // the first release with this layout
  uint32_t kind_offset = 0;      // offset of special.kind
  uint8_t profile_kind = 0;      // _KindSpecialProfile
};

// The layout for `release`: the newest entry not newer than it (a release
// newer than the newest known gets the newest entry; plan_probes refuses
// such a binary unless --allow-unverified-go); nullopt before Go 1.17.
std::optional<SpecialLayout> special_layout_for(GoRelease release);

// Fails with a one-line reason naming the binary: no runtime.profilealloc
// (heap profiling compiled out, or inlined), MemProfileRate not found in its
// code, a prologue without a stack-bound check, a release without a known
// layout, or a runtime.freeSpecial that reads special.kind elsewhere than
// the layout says.
Result<HeapProfilerHooks> find_heap_profiler_hooks(const GoBinary& binary);

}  // namespace gotrace
