// Profiles read back by Go's own tools: `go tool pprof -raw`, whose text
// lists the samples, then the locations, each with its inlined callers:
//
//   Samples:
//   alloc_objects/count alloc_space/bytes
//          100       4800: 1 2 3
//                  process:[allocs] type:[main.Record]
//                  bytes:[48] pid:[1234]
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

// A sample's labels, string and numeric alike, by key: "type" →
// "main.Record", "pid" → "1234". A label with several values has the first.
using SampleLabels = std::map<std::string, std::string>;

// Allocation figures by the leaf function and line of each sample. Function
// names have their type arguments collapsed (collapse_type_arguments).
struct PprofSites {
  std::map<SiteKey, ObjectsAndBytes> by_site;
  std::map<std::string, ObjectsAndBytes> by_function;
  std::map<std::string, std::map<std::string, int64_t>> types_by_function;  // → type label → objects
  std::map<SiteKey, ObjectsAndBytes> inuse_by_site;  // inuse_objects and inuse_space, where the profile has them
  std::map<SiteKey, ObjectsAndBytes> peak_inuse_by_site;  // peak_inuse_objects and peak_inuse_space, the same
  std::string sample_types;  // "alloc_objects/count alloc_space/bytes[dflt] ...", as pprof lists them
  std::string raw;           // the text `go tool pprof -raw` printed
};
// Only the samples that carry every label of `only` with its value, e.g.
// {{"pid", "1234"}} for one process of a trace of several; all when empty.
PprofSites read_pprof_sites(const std::string& path, const SampleLabels& only = {});

// Every sample's labels, figures and stack, in the profile's order.
struct LabelledSample {
  SampleLabels labels;
  ObjectsAndBytes totals;
  Stack stack;
};
std::vector<LabelledSample> read_pprof_labels(const std::string& path);

// Every sample of a profile by its whole stack, summed over samples with the
// same stack; samples with no allocations (the runtime's profile lists the
// call stacks it has seen since its last snapshot with zeros) are left out.
// Only the samples that carry every label of `only`, as read_pprof_sites.
std::map<Stack, ObjectsAndBytes> read_pprof_stacks(const std::string& path, const SampleLabels& only = {});

// The same by whole stack and type label: a sample's stack and its "type" label.
using TypedStack = std::pair<Stack, std::string>;
std::map<TypedStack, ObjectsAndBytes> read_pprof_typed_stacks(const std::string& path);

// "main.f:12 <- main.g:20 (x59) <- runtime.main:283", leaf first, runs of one
// frame counted.
std::string describe_stack(const Stack& stack);

}  // namespace gotrace::testing
