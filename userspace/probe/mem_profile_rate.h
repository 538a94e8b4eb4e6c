// Where runtime.MemProfileRate lives in a Go binary, stripped builds included.
//
// gotrace reads it from the target (never writes it): the runtime samples
// allocations for its heap profile one per MemProfileRate bytes, and turns
// it to 0 at start in a program that does not link the heap profiler.
//
// A stripped (-s -w) binary has no .symtab, so the variable is found from
// the code that reads it: runtime.profilealloc reads it (nextSample is
// inlined there in Go 1.17 to 1.27; were it a call, its code is read too)
// and, besides it, only runtime.mcache0 (getMCache, inlined). Both are
// 8-byte variables the garbage collector does not scan: MemProfileRate is an
// int, in .noptrdata from Go 1.20 (`= 512 * 1024`) or .noptrbss before
// (defaultMemProfileRate set it at run time), and mcache0 points to an
// mcache, which is not in the Go heap, so it lies in .noptrbss too. What
// tells them apart is their use: nextSample compares MemProfileRate with 1
// (`if MemProfileRate == 1`), and mcache0 is only tested for nil and
// dereferenced. The candidates are the pointer-free 8-byte variables that
// profilealloc reads and compares with 1; exactly one must remain.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "symbolizer/go_binary.h"

namespace gotrace {

struct GlobalVariable {
  uint64_t vaddr = 0;     // link-time address (for a PIE too)
  std::string how_found;  // for gotrace info and -v
};

// From the code alone, whether or not the binary has a .symtab. Fails,
// naming the binary, when profilealloc is missing or its reads do not single
// out one variable.
Result<GlobalVariable> find_mem_profile_rate_in_code(const GoBinary& binary);

// From the .symtab when the binary has one (the code is searched too and
// how_found says whether it agrees), otherwise from the code.
Result<GlobalVariable> find_mem_profile_rate(const GoBinary& binary);

// The value of symbol `name` in the binary's .symtab; nullopt when there is
// none or the table is malformed.
std::optional<uint64_t> symtab_value(const ElfFile& elf, std::string_view name);

}  // namespace gotrace
