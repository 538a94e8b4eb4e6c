// The choice of the probed instruction in a function's prologue, on the bytes
// of real Go prologues (from `go tool objdump` of the fixture builds) and on
// code that has no stack-bound check where one is looked for.
#include "userspace/probe/probe_site.h"

#include <gtest/gtest.h>

#include <vector>

namespace gotrace {
namespace {

Result<ProbedInstruction> probe(const std::vector<uint8_t>& code, uint64_t entry = 0x401000) {
  return find_probed_instruction("main.f", ByteView(code.data(), code.size()), entry);
}

void expect_probed(const std::vector<uint8_t>& code, uint64_t offset, const std::string& text) {
  auto probed = probe(code);
  ASSERT_TRUE(probed) << probed.error().message;
  EXPECT_EQ(probed->offset, offset);
  EXPECT_EQ(probed->text, text);
}

void expect_refused(const std::vector<uint8_t>& code) {
  auto probed = probe(code);
  ASSERT_FALSE(probed) << "probed at +" << probed->offset << ": " << probed->text;
  EXPECT_EQ(probed.error().message, "no stack-bound check found in the prologue of main.f; refusing to probe it");
}

TEST(ProbeSite, Go119SmallFrameProbesTheFrameAllocation) {
  // runtime.mallocgc, Go 1.19: the frame pointer is saved after the frame is made.
  expect_probed({0x49, 0x3b, 0x66, 0x10,                    // cmp 0x10(%r14), %rsp
                 0x0f, 0x86, 0xbe, 0x08, 0x00, 0x00,        // jbe morestack
                 0x48, 0x83, 0xec, 0x70,                    // sub $0x70, %rsp
                 0x48, 0x89, 0x6c, 0x24, 0x68,              // mov %rbp, 0x68(%rsp)
                 0x48, 0x8d, 0x6c, 0x24, 0x68},             // lea 0x68(%rsp), %rbp
                10, "sub $0x70, %rsp");
}

TEST(ProbeSite, Go121SmallFrameProbesTheFramePointerPush) {
  // runtime.mallocgc, Go 1.21 (and the same shape up to 1.27).
  expect_probed({0x49, 0x3b, 0x66, 0x10,                    // cmp 0x10(%r14), %rsp
                 0x0f, 0x86, 0x07, 0x08, 0x00, 0x00,        // jbe morestack
                 0x55,                                      // push %rbp
                 0x48, 0x89, 0xe5,                          // mov %rsp, %rbp
                 0x48, 0x83, 0xec, 0x58},                   // sub $0x58, %rsp
                10, "push %rbp");
}

TEST(ProbeSite, LargeFrameComparesTheLoweredStackPointer) {
  // runtime.mProf_Malloc, Go 1.21: a frame over the small-frame slack is
  // checked with the stack pointer it will have.
  expect_probed({0x4c, 0x8d, 0xa4, 0x24, 0x08, 0xff, 0xff, 0xff,  // lea -0xf8(%rsp), %r12
                 0x4d, 0x3b, 0x66, 0x10,                          // cmp 0x10(%r14), %r12
                 0x0f, 0x86, 0xa7, 0x01, 0x00, 0x00,              // jbe morestack
                 0x55,                                            // push %rbp
                 0x48, 0x89, 0xe5},                               // mov %rsp, %rbp
                18, "push %rbp");
}

TEST(ProbeSite, HugeFrameSkipsTheWraparoundJump) {
  // main.bigFrame of the symtest fixture, Go 1.21: a frame of more than
  // 64 KiB first checks that the lowered stack pointer did not wrap around,
  // with a conditional jump that is not the bound check's.
  expect_probed({0x49, 0x89, 0xe4,                          // mov %rsp, %r12
                 0x49, 0x81, 0xec, 0x20, 0x38, 0x01, 0x00,  // sub $0x13820, %r12
                 0x72, 0x7b,                                // jb morestack
                 0x4d, 0x3b, 0x66, 0x10,                    // cmp 0x10(%r14), %r12
                 0x76, 0x75,                                // jbe morestack
                 0x55,                                      // push %rbp
                 0x48, 0x89, 0xe5},                         // mov %rsp, %rbp
                18, "push %rbp");
}

TEST(ProbeSite, RelativeOperandsAreShownAtTheirLinkTimeAddress) {
  // A prologue whose first instruction after the check is a call: its
  // target is printed as the address the code was linked at.
  std::vector<uint8_t> code = {0x49, 0x3b, 0x66, 0x10, 0x76, 0x10, 0xe8, 0x00, 0x01, 0x00, 0x00};
  auto probed = probe(code, 0x401000);
  ASSERT_TRUE(probed) << probed.error().message;
  EXPECT_EQ(probed->offset, 6u);
  EXPECT_EQ(probed->text, "call 0x000000000040110B");
}

TEST(ProbeSite, FunctionWithoutStackCheckIsRefused) {
  // runtime.memmove, Go 1.21: assembly that never grows the stack.
  expect_refused({0x48, 0x89, 0xc7,                    // mov %rax, %rdi
                  0x48, 0x89, 0xde,                    // mov %rbx, %rsi
                  0x48, 0x89, 0xcb,                    // mov %rcx, %rbx
                  0x48, 0x85, 0xdb,                    // test %rbx, %rbx
                  0x0f, 0x84, 0xf7, 0x00, 0x00, 0x00,  // je
                  0x48, 0x83, 0xfb, 0x02});            // cmp $0x2, %rbx
}

TEST(ProbeSite, CompareNotFollowedByItsJumpIsRefused) {
  expect_refused({0x49, 0x3b, 0x66, 0x10,  // cmp 0x10(%r14), %rsp
                  0x90,                    // nop
                  0x76, 0x10,              // jbe
                  0x55});                  // push %rbp
}

TEST(ProbeSite, CheckPastThePrologueIsNotLookedFor) {
  std::vector<uint8_t> late_check(16, 0x90);  // sixteen nops
  late_check.insert(late_check.end(), {0x49, 0x3b, 0x66, 0x10, 0x76, 0x10, 0x55});
  expect_refused(late_check);

  // Nor past kMaxPrologueBytes, however few instructions come before it.
  std::vector<uint8_t> far_check;
  for (int i = 0; i < 9; ++i) far_check.insert(far_check.end(), {0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0});  // movabs
  far_check.insert(far_check.end(), {0x48, 0x05, 0, 0, 0, 0});  // add $0, %rax
  ASSERT_EQ(far_check.size(), kMaxPrologueBytes);
  far_check.insert(far_check.end(), {0x49, 0x3b, 0x66, 0x10, 0x76, 0x10, 0x55});
  expect_refused(far_check);
}

TEST(ProbeSite, TruncatedOrGarbageCodeIsRefused) {
  expect_refused({});
  // The check and its jump, but the code ends before the instruction after them.
  expect_refused({0x49, 0x3b, 0x66, 0x10, 0x0f, 0x86, 0xbe, 0x08, 0x00, 0x00});
  // The jump itself cut short.
  expect_refused({0x49, 0x3b, 0x66, 0x10, 0x0f, 0x86, 0xbe});
  // An undecodable instruction after the jump (0x06 is invalid in 64-bit mode).
  expect_refused({0x49, 0x3b, 0x66, 0x10, 0x76, 0x10, 0x06, 0x90});
  // Bytes that decode as nothing at all.
  expect_refused(std::vector<uint8_t>(32, 0x06));
}

}  // namespace
}  // namespace gotrace
