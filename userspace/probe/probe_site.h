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

// Decodes the prologue of `function` and returns the first instruction after
// its stack-bound check. Fails, naming the function, when the prologue does
// not have the expected shape: gotrace would rather refuse than double-count.
Result<ProbeSite> find_probe_site(const GoBinary& binary, const FunctionInfo& function);

}  // namespace gotrace
