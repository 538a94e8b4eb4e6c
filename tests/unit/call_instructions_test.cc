// The instructions at a call, on a synthetic Go executable whose code is
// known byte for byte (main.main: CALL runtime.mallocgcSmallNoscanSC2; CALL
// runtime.mallocgc; RET; INT3 padding), and the addresses that are not a
// call's return address.
#include <gtest/gtest.h>

#include "tests/unit/synthetic_binary_test.h"
#include "userspace/explain/call_instructions.h"

namespace gotrace {
namespace {

namespace synthetic = gotrace::fuzz;

class CallInstructionsTest : public SyntheticBinaryTest {};

TEST_F(CallInstructionsTest, TheCallAndTheInstructionsBeforeItBackToTheEntry) {
  CallDisassembler disassembler(*binary_);
  uint64_t second_call = in("main.main", 5);
  auto got = disassembler.call_instructions(second_call + 5);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->function, "main.main");
  EXPECT_EQ(got->callee, "runtime.mallocgc");
  ASSERT_EQ(got->instructions.size(), 2u);
  const DisassembledInstruction& first = got->instructions[0];
  EXPECT_EQ(first.address, in("main.main", 0));
  EXPECT_EQ(first.length, 5);
  EXPECT_EQ(first.text, "CALL runtime.mallocgcSmallNoscanSC2(SB)");
  EXPECT_EQ(first.referenced, in("runtime.mallocgcSmallNoscanSC2", 0));
  EXPECT_FALSE(first.is_call);
  const DisassembledInstruction& call = got->instructions[1];
  EXPECT_EQ(call.address, second_call);
  EXPECT_EQ(call.text, "CALL runtime.mallocgc(SB)");
  EXPECT_EQ(call.referenced_name, "runtime.mallocgc");
  EXPECT_TRUE(call.is_call);
  // mallocgc takes its type in RBX, which nothing in main.main writes: its
  // own argument, and the caller is not known here.
  ASSERT_TRUE(got->type_argument);
  EXPECT_EQ(got->type_argument->register_name, "BX");
  EXPECT_EQ(got->type_argument->type.kind, AllocationType::Kind::kUnknown);
  EXPECT_EQ(got->type_argument->type_name, "");

  auto alone = disassembler.call_instructions(second_call + 5, 0);
  ASSERT_TRUE(alone) << alone.error().message;
  ASSERT_EQ(alone->instructions.size(), 1u);
  EXPECT_EQ(alone->instructions[0].address, second_call);
}

TEST_F(CallInstructionsTest, AnAddressNotAfterACallIsRefused) {
  CallDisassembler disassembler(*binary_);
  uint64_t after_ret = in("main.main", 11), inside_call = in("main.main", 3), in_padding = in("main.main", 13);
  auto after = disassembler.call_instructions(after_ret);
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().message,
            fmt::format("0x{:x}: not a return address in main.main: the instruction before it is RET", after_ret));
  auto inside = disassembler.call_instructions(inside_call);
  ASSERT_FALSE(inside);
  EXPECT_EQ(inside.error().message,
            fmt::format("0x{:x}: not a return address in main.main: no instruction ends there", inside_call));
  auto padding = disassembler.call_instructions(in_padding);
  ASSERT_FALSE(padding);
  EXPECT_EQ(padding.error().message,
            fmt::format("0x{:x}: not a return address in main.main: the instruction before it is INT $0x3",
                        in_padding));
}

TEST_F(CallInstructionsTest, AnAddressOutsideEveryFunctionIsRefused) {
  CallDisassembler disassembler(*binary_);
  for (uint64_t address : {uint64_t(0), synthetic::kText, synthetic::kText + synthetic::kTextSize + 1,
                           synthetic::kRodata + 0x40, ~uint64_t(0)}) {
    auto got = disassembler.call_instructions(address);
    ASSERT_FALSE(got) << fmt::format("0x{:x}", address);
    EXPECT_EQ(got.error().message,
              fmt::format("0x{:x}: not a return address in a function of '{}'", address, path_));
  }
}

}  // namespace
}  // namespace gotrace
