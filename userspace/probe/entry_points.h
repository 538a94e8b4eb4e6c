// The functions compiled Go code calls to allocate, found from the binary's code.
//
// Compiled code reaches the allocator through runtime.mallocgc (newobject,
// makeslice, growslice, ... call it) and, with size-specialized malloc (Go
// 1.26 with GOEXPERIMENT=sizespecializedmalloc, Go 1.27 by default), by
// calling functions such as runtime.mallocgcTinySize8 or
// runtime.mallocgcSmallScanNoHeaderSC3 directly, which allocate without
// mallocgc. Their names have changed with every release, so no name pattern
// finds them: the code outside the runtime is decoded for its direct calls
// into the runtime, and a callee is an entry point when it reaches the
// allocator's core (the mcache, the heap profiler's hook) without going
// through runtime.mallocgc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "symbolizer/go_binary.h"
#include "base/result.h"

namespace gotrace {

struct EntryPoint {
  FunctionInfo function;
  // How it was found, for `gotrace info` and errors, e.g. "called directly
  // from 412 sites outside the runtime; allocates without runtime.mallocgc".
  std::string how_found;
  uint64_t call_sites = 0;  // direct calls from code outside the runtime
};

struct AllocationEntryPoints {
  // runtime.mallocgc first, then the functions that allocate without it, by address.
  std::vector<EntryPoint> entry_points;
  // Allocation paths gotrace does not understand, by address: functions
  // named runtime.malloc* that code outside the runtime calls but that reach
  // neither runtime.mallocgc nor the allocator's core, and functions of other
  // names that allocate without mallocgc (mallocgc inlined into them, as PGO
  // does), whose arguments the probe cannot read as mallocgc's.
  std::vector<EntryPoint> unverified;
};

// Fails only when the binary has no runtime.mallocgc. Corrupt code (calls
// into nowhere, undecodable bytes) yields fewer entry points, never a crash.
Result<AllocationEntryPoints> find_allocation_entry_points(const GoBinary& binary);

}  // namespace gotrace
