// Where the runtime's own heap profiler can be watched in a Go binary.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "symbolizer/go_binary.h"
#include "userspace/probe/probe_site.h"

namespace gotrace {

struct HeapProfilerHooks {
  ProbeSite sample;                  // runtime.profilealloc
  ProbeSite free;                    // runtime.freeSpecial
  uint64_t mem_profile_rate = 0;     // link-time address of runtime.MemProfileRate
  uint32_t special_kind_offset = 0;  // offset of runtime.special.kind
  uint8_t special_profile_kind = 0;  // _KindSpecialProfile in this release
  std::string how_found;
};

Result<HeapProfilerHooks> find_heap_profiler_hooks(const GoBinary& binary);

}  // namespace gotrace
