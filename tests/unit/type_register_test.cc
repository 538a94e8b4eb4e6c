// The register each allocator entry point takes its type in, from the
// runtime's signatures (Go 1.19's growslice took it first, Go 1.20's last).
#include <gtest/gtest.h>

#include "userspace/probe/allocation_types.h"

namespace gotrace {
namespace {

TEST(TypeRegister, OfEachEntryPoint) {
  GoRelease go119{1, 19, 8}, go127{1, 27, 4};
  EXPECT_EQ(type_register_of("runtime.mallocgc", go119), ArgumentRegister::kRbx);
  EXPECT_EQ(type_register_of("runtime.mallocgcSmallScanNoHeaderSC3", go127), ArgumentRegister::kRbx);
  EXPECT_EQ(type_register_of("runtime.newobject", go127), ArgumentRegister::kRax);
  EXPECT_EQ(type_register_of("runtime.makeslice", go127), ArgumentRegister::kRax);
  EXPECT_EQ(type_register_of("runtime.growslice", go119), ArgumentRegister::kRax);
  EXPECT_EQ(type_register_of("runtime.growslice", go127), ArgumentRegister::kRsi);
  EXPECT_EQ(type_register_of("reflect.unsafe_New", go127), ArgumentRegister::kRax);
  EXPECT_EQ(type_register_of("runtime.profilealloc", go127), std::nullopt);
}

}  // namespace
}  // namespace gotrace
