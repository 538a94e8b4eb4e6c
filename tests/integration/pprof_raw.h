// Profiles read back by Go's own tools: `go tool pprof -raw`, whose text
// lists the samples, then the locations, each with its inlined callers:
//
//   Samples:
//   alloc_objects/count alloc_space/bytes
//          100       4800: 1 2 3
//                  type:[main.Record]
//   Locations
//        1: 0x4a1b2c M=1 main.f /src/main.go:12:0 s=10
//                main.g /src/main.go:20:0 s=18
//   Mappings
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/integration/allocs_report.h"

namespace gotrace::testing {

// One frame of a stack: the function, as the profile names it (its system
// name when pprof prints one), and the line.
using StackFrame = std::pair<std::string, int64_t>;
using Stack = std::vector<StackFrame>;  // leaf first, inlined frames expanded

// Allocation figures by the leaf function and line of each sample. Function
// names have their type arguments collapsed (collapse_type_arguments).
struct PprofSites {
  std::map<SiteKey, ObjectsAndBytes> by_site;
  std::map<std::string, ObjectsAndBytes> by_function;
  std::map<std::string, std::map<std::string, int64_t>> types_by_function;  // → type label → objects
  std::map<SiteKey, ObjectsAndBytes> inuse_by_site;  // inuse_objects and inuse_space, where the profile has them
  std::string sample_types;  // "alloc_objects/count alloc_space/bytes[dflt] ...", as pprof lists them
  std::string raw;           // the text `go tool pprof -raw` printed
};
PprofSites read_pprof_sites(const std::string& path);

// Every sample of a profile by its whole stack, summed over samples with the
// same stack; samples with no allocations (the runtime's profile lists the
// call stacks it has seen since its last snapshot with zeros) are left out.
std::map<Stack, ObjectsAndBytes> read_pprof_stacks(const std::string& path);

// The same by whole stack and type label: a sample's stack and its "type" label.
using TypedStack = std::pair<Stack, std::string>;
std::map<TypedStack, ObjectsAndBytes> read_pprof_typed_stacks(const std::string& path);

// "main.f:12 <- main.g:20 (x59) <- runtime.main:283", leaf first, runs of one
// frame counted.
std::string describe_stack(const Stack& stack);

}  // namespace gotrace::testing
