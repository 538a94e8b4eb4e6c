// The bytes Go's allocator hands out for a request, as its heap profile
// counts them. Every expected figure here is read off Go's own tables and
// rules, not computed the way the code under test computes it:
// runtime/sizeclasses.go (internal/runtime/gc/sizeclasses.go from Go 1.25)
// for the size classes, 8 KiB pages (PageShift = 13) and MaxSmallSize =
// 32768; runtime/malloc.go for the tiny allocator (noscan and under
// TinySize = 16) and, from Go 1.22, the 8-byte malloc header of pointerful
// objects over MinSizeForMallocHeader = 512 bytes, which also lowers the
// largest small object to 32768 - 8.
#include "userspace/profile/allocation_size.h"

#include <gtest/gtest.h>

#include <vector>

namespace gotrace {
namespace {

constexpr AllocatorModel kGo122{true};   // malloc headers
constexpr AllocatorModel kGo121{false};  // none
constexpr bool kNoscan = true, kPointers = false;

using Sizes = std::vector<uint64_t>;

Sizes allocated(const Sizes& requests, bool noscan, const AllocatorModel& model) {
  Sizes out;
  for (uint64_t requested : requests) out.push_back(allocated_bytes(requested, noscan, model));
  return out;
}

TEST(AllocatedBytes, NothingForNothing) {
  EXPECT_EQ(allocated_bytes(0, kNoscan, kGo122), 0u);
  EXPECT_EQ(allocated_bytes(0, kPointers, kGo122), 0u);
  EXPECT_FALSE(is_tiny_allocation(0, kNoscan));
}

TEST(AllocatedBytes, TinyObjectsCountAsRequested) {
  // Pointer-free requests of 1 to 15 bytes share 16-byte blocks; 16 bytes
  // is size class 2.
  EXPECT_EQ(allocated({1, 8, 15, 16}, kNoscan, kGo122), (Sizes{1, 8, 15, 16}));
  EXPECT_EQ(allocated({1, 15}, kNoscan, kGo121), (Sizes{1, 15}));
  EXPECT_TRUE(is_tiny_allocation(15, kNoscan));
  EXPECT_FALSE(is_tiny_allocation(16, kNoscan));
  // Pointerful objects are never tiny: class 1 is 8 bytes, class 2 16.
  EXPECT_EQ(allocated({1, 8, 9}, kPointers, kGo122), (Sizes{8, 8, 16}));
  EXPECT_FALSE(is_tiny_allocation(8, kPointers));
}

TEST(AllocatedBytes, SmallObjectsRoundUpToTheirSizeClass) {
  // Classes 3: 24, 5: 48 (there is no 40), 9: 112, 18: 256, 19: 288,
  // 26: 512, 27: 576; then 33: 1152, 45: 4864, 52: 9472, 65: 27264 and
  // 67: 32768, the largest.
  EXPECT_EQ(allocated({17, 33, 40, 100, 256, 257, 512, 513}, kNoscan, kGo122),
            (Sizes{24, 48, 48, 112, 256, 288, 512, 576}));
  EXPECT_EQ(allocated({1025, 4097, 8193, 25000, 30000}, kNoscan, kGo122), (Sizes{1152, 4864, 9472, 27264, 32768}));
  // Up to 512 bytes, pointers make no difference, nor does the release.
  EXPECT_EQ(allocated({17, 40, 100, 257, 512}, kPointers, kGo122), (Sizes{24, 48, 112, 288, 512}));
  EXPECT_EQ(allocated({17, 40, 100, 257, 512}, kPointers, kGo121), (Sizes{24, 48, 112, 288, 512}));
}

TEST(AllocatedBytes, PointerfulObjectsOver512BytesCarryAMallocHeaderFromGo122) {
  // 512 bytes fits its class exactly and has no header (the minimum is
  // exclusive). 570 + 8 = 578: class 28, 640, where 570 alone is class 27,
  // 576. 1024 + 8: class 33, 1152. 4096 + 8: class 45, 4864. 32760 + 8 =
  // 32768, the largest class.
  EXPECT_EQ(allocated({512, 570, 1024, 4096, 32760}, kPointers, kGo122), (Sizes{512, 640, 1152, 4864, 32768}));
  EXPECT_EQ(allocated({512, 570, 1024, 4096, 32760}, kPointers, kGo121), (Sizes{512, 576, 1024, 4096, 32768}));
  EXPECT_EQ(allocated({512, 570, 1024, 4096, 32760}, kNoscan, kGo122), (Sizes{512, 576, 1024, 4096, 32768}));
}

TEST(AllocatedBytes, LargeObjectsTakeWholePages) {
  // From Go 1.22 anything over 32768 - 8 is large, pointers or not, and a
  // large object has no header: 32761 pointerful bytes take four 8 KiB
  // pages, where a header would have made them five. 40961 bytes take six
  // pages; 100000 bytes 12.2, so 13: 106496.
  const Sizes requests = {32761, 32768, 32769, 40960, 40961, 100000, 1 << 20};
  const Sizes pages = {32768, 32768, 40960, 40960, 49152, 106496, 1 << 20};
  EXPECT_EQ(allocated(requests, kPointers, kGo122), pages);
  EXPECT_EQ(allocated(requests, kNoscan, kGo122), pages);
  EXPECT_EQ(allocated(requests, kPointers, kGo121), pages);
}

}  // namespace
}  // namespace gotrace
