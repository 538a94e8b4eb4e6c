#include "userspace/profile/allocation_kind.h"

#include <gtest/gtest.h>

namespace gotrace {
namespace {

TEST(AllocationKind, IsTheRuntimeFunctionCalledWithoutItsPackage) {
  EXPECT_EQ(allocation_kind("runtime.growslice", "int"), "growslice");
  EXPECT_EQ(allocation_kind("runtime.convT64", "raw memory"), "convT64");
  EXPECT_EQ(allocation_kind("runtime.mapassign_faststr", "unknown type"), "mapassign_faststr");
  EXPECT_EQ(allocation_kind("runtime.mallocgc", "uint8"), "mallocgc");
  EXPECT_EQ(allocation_kind("internal/runtime/maps.newarray", "uint8"), "maps.newarray");
}

TEST(AllocationKind, ASizeSpecializedAllocatorCalledDirectlyIsANewObject) {
  EXPECT_EQ(allocation_kind("runtime.mallocgcSmallScanNoHeaderSC3", "main.Small"), "newobject");
  EXPECT_EQ(allocation_kind("runtime.mallocgcTinySC2", "int64"), "newobject");
  EXPECT_EQ(allocation_kind("runtime.mallocgcTinySize8", "int64"), "newobject");
}

TEST(AllocationKind, ANewObjectOfAClosureContextIsAClosure) {
  EXPECT_EQ(allocation_kind("runtime.newobject", "struct { F uintptr; X0 int }"), "closure");
  EXPECT_EQ(allocation_kind("runtime.mallocgcSmallNoScanSC2", "struct { F uintptr; X0 int }"), "closure");
  EXPECT_EQ(allocation_kind("runtime.newobject", "struct { .F uintptr; base int }"), "closure");
  // Only a new object: a slice of such structs is a slice.
  EXPECT_EQ(allocation_kind("runtime.makeslice", "struct { F uintptr; X0 int }"), "makeslice");
  EXPECT_EQ(allocation_kind("runtime.newobject", "struct { Fd uintptr }"), "newobject");
}

TEST(AllocationKind, AllocatorFramesAreMallocgcAndTheProfiler) {
  EXPECT_TRUE(is_allocator_frame("runtime.mallocgc"));
  EXPECT_TRUE(is_allocator_frame("runtime.mallocgcSmallScanHeader"));
  EXPECT_TRUE(is_allocator_frame("runtime.profilealloc"));
  EXPECT_FALSE(is_allocator_frame("runtime.newobject"));
  EXPECT_FALSE(is_allocator_frame("main.mallocgc"));
}

TEST(AllocationKind, KnownKindsAreDescribed) {
  EXPECT_EQ(describe_allocation_kind("growslice"), "append growing a slice");
  EXPECT_EQ(describe_allocation_kind("closure"), "a closure's captured variables");
  EXPECT_EQ(describe_allocation_kind("someRuntimeFunction"), "");
}

}  // namespace
}  // namespace gotrace
