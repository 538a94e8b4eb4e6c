#include "userspace/profile/allocation_size.h"

#include <algorithm>
#include <array>

namespace gotrace {
namespace {

// runtime's class_to_size (internal/runtime/gc.SizeClassToSize from Go 1.25);
// unchanged from Go 1.16 to 1.27.
constexpr std::array<uint32_t, 68> kSizeClasses = {
    0,     8,     16,    24,    32,    48,    64,    80,    96,    112,   128,   144,   160,   176,
    192,   208,   224,   240,   256,   288,   320,   352,   384,   416,   448,   480,   512,   576,
    640,   704,   768,   896,   1024,  1152,  1280,  1408,  1536,  1792,  2048,  2304,  2688,  3072,
    3200,  3456,  4096,  4864,  5376,  6144,  6528,  6784,  6912,  8192,  9472,  9728,  10240, 10880,
    12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768};

constexpr uint64_t kMaxSmallSize = 32768;
constexpr uint64_t kMallocHeaderSize = 8;
constexpr uint64_t kMinSizeForMallocHeader = 512;  // goarch.PtrSize * ptrBits
constexpr uint64_t kPageSize = 8192;

}  // namespace

uint64_t allocated_bytes(uint64_t requested, bool noscan, const AllocatorModel& model) {
  if (requested == 0) return 0;
  if (is_tiny_allocation(requested, noscan)) return requested;
  uint64_t size = requested;
  uint64_t small_limit = model.malloc_headers ? kMaxSmallSize - kMallocHeaderSize : kMaxSmallSize;
  if (size <= small_limit) {
    if (model.malloc_headers && !noscan && size > kMinSizeForMallocHeader) size += kMallocHeaderSize;
    return *std::lower_bound(kSizeClasses.begin(), kSizeClasses.end(), size);
  }
  // Large objects get their own span of whole pages.
  if (size > UINT64_MAX - kPageSize) return size;
  return (size + kPageSize - 1) / kPageSize * kPageSize;
}

}  // namespace gotrace
