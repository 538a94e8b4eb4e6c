// The bytes the Go allocator hands out for a request, as Go's own heap
// profile counts them (runtime.mallocgc and its helpers, Go 1.17–1.27):
// small objects are rounded up to their size class; pointerful objects over
// 512 bytes carry an 8-byte malloc header from Go 1.22 on; large objects
// take whole 8 KiB pages; tiny noscan objects (under 16 bytes) are counted
// at the size requested, since the tiny allocator packs them into shared
// 16-byte blocks.
#pragma once

#include <cstdint>

namespace gotrace {

struct AllocatorModel {
  bool malloc_headers = true;  // Go 1.22+
};

// `noscan`: the type holds no pointers (or there is no type).
uint64_t allocated_bytes(uint64_t requested, bool noscan, const AllocatorModel& model);

// True for requests the tiny allocator serves.
inline bool is_tiny_allocation(uint64_t requested, bool noscan) { return noscan && requested > 0 && requested < 16; }

}  // namespace gotrace
