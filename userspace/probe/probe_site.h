// Where in an allocator entry point the uprobe goes.
//
// Not at the first instruction: a Go function's prologue compares the stack
// pointer with the goroutine's stack bound and, when the stack must grow (or
// the goroutine is being preempted), calls morestack and jumps back to the
// entry. A probe there fires twice for one allocation, and the compare it
// sits on cannot be emulated by the kernel, so it is single-stepped (two
// traps). The instruction right after the bound check's conditional jump runs
// exactly once per call, with every argument register as it was at entry.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "symbolizer/go_binary.h"
#include "base/result.h"

namespace gotrace {

struct ProbeSite {
  std::string function;         // e.g. runtime.mallocgc
  uint64_t entry = 0;           // link-time address of the function
  uint64_t vaddr = 0;           // link-time address of the probed instruction
  uint64_t file_offset = 0;     // what the uprobe is attached at
  std::string instruction;      // the probed instruction, disassembled
};

// The instruction the probe goes on, as found in a function's code.
struct ProbedInstruction {
  uint64_t offset = 0;  // from the function's entry
  std::string text;     // disassembled (AT&T syntax)
};

// How much of a function's code is searched for its stack-bound check.
inline constexpr uint64_t kMaxPrologueBytes = 96;

// Decodes the prologue in `code`, the first bytes of `function` as linked at
// `entry`, and returns the first instruction after its stack-bound check: the
// compare of the stack pointer with g.stackguard0 and the conditional jump
// after it. Fails, naming the function, when the prologue does not have that
// shape: gotrace would rather refuse than double-count.
Result<ProbedInstruction> find_probed_instruction(std::string_view function, ByteView code, uint64_t entry);

// The same for `function` of `binary`, placed in the file; errors also name the binary.
Result<ProbeSite> find_probe_site(const GoBinary& binary, const FunctionInfo& function);

}  // namespace gotrace
