// The instructions at an allocation site, for `gotrace explain`: the call
// that a return address comes back from (the user's code calling into the
// runtime's allocator) and the instructions ahead of it, where the compiler
// set up the call's arguments (the size, the type).
//
// The text is Go's assembler syntax, as `go tool objdump` prints it (its
// printer is golang.org/x/arch/x86/x86asm's GoSyntax, followed here rule for
// rule: Plan 9 register names, the size suffix on the mnemonics it puts one
// on, source operand first except for CMP): the listing Go programmers know.
// Zydis decodes; its formatter has no such style, and its AT&T style would
// need every part of its output overridden, so the operands are printed here
// from the decoded instruction. Where objdump reads worse, this does not
// follow it: function names come from the pclntab, so a stripped binary's
// calls are named too (and an assembly function is runtime.morestack, not
// runtime.morestack.abi0); an address of a type descriptor is named as the
// type (`LEAQ type:main.Small(SB), AX`), which objdump shows as a bare
// offset because Go's linker gives types no symbols (`type:` whatever the
// release, though the linker named them `type.` before Go 1.20); a backward
// RIP-relative reference is named, where objdump's sum overflows; and a
// negative 32-bit displacement is signed, -0x88(SP), where objdump writes
// 0xffffff78(SP). Other data is named from the .symtab when the binary has
// one (`main.sinkSmall(SB)`), as objdump does.
//
// The function is decoded linearly from its entry (Go puts no data in its
// text), so the instructions before the call are real instruction starts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "symbolizer/elf_symbols.h"
#include "symbolizer/go_binary.h"
#include "userspace/probe/allocation_types.h"

namespace gotrace {

struct DisassembledInstruction {
  uint64_t address = 0;  // link-time
  uint8_t length = 0;    // bytes
  std::string text;      // Go syntax: "LEAQ type:main.Small(SB), AX", "CALL runtime.newobject(SB)"
  // The source position of the instruction (of the innermost function
  // inlined there), as the pclntab records it; "" and 0 when it has none.
  std::string file;
  int64_t line = 0;
  bool is_call = false;  // the call the return address comes back from
  // The address an operand refers to (a call or jump's destination, a
  // RIP-relative operand's), when there is one, and the name `text` gives it
  // ("runtime.newobject", "main.sinkInts+8", "type:main.Small"); "" when the
  // text shows it as a number.
  std::optional<uint64_t> referenced;
  std::string referenced_name;
};

// What the code says the called allocator's type argument is at the call
// (AllocationTypes, one frame: an argument of the calling function is
// unknown here).
struct TypeArgument {
  std::string register_name;  // Go's name of the register: "AX"
  AllocationType type;
  std::string type_name;  // the Go type's name when type.kind is kKnown: "main.Small"
};

struct CallInstructions {
  std::string function;  // the function that makes the call, as the pclntab names it
  // In address order, the call last: up to `before` instructions ahead of
  // it in the same function, fewer at the function's entry.
  std::vector<DisassembledInstruction> instructions;
  // The function called, as the pclntab names it ("runtime.makeslice"); ""
  // for an indirect call or a call to no function's entry.
  std::string callee;
  // Set when the callee takes a type (type_register_of).
  std::optional<TypeArgument> type_argument;
};

inline constexpr int kInstructionsBeforeCall = 6;
// The code decoded from a function's entry up to a call: a call further in
// is refused.
inline constexpr uint64_t kMaxBytesBeforeCall = 16 << 20;

class CallDisassembler {
 public:
  // Reads `binary`'s .symtab once; `binary` must outlive this.
  explicit CallDisassembler(const GoBinary& binary);

  // The call that `return_address` (a link-time address) returns from, with
  // up to `before` instructions ahead of it. An error, naming the address,
  // when it is in no function, when no instruction of its function ends
  // there, or when the one that does is not a call.
  Result<CallInstructions> call_instructions(uint64_t return_address, int before = kInstructionsBeforeCall);

 private:
  const GoBinary& binary_;
  ElfSymbols symbols_;
  AllocationTypes types_;
};

}  // namespace gotrace
