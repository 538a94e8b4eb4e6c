// What tests/fixtures/kinds says of itself: each allocating line follows a
// comment "// kind: K" naming its allocation kind (profile/allocation_kind.h),
// which the tests of kinds, of the disassembly and of explain check gotrace
// against, and `go tool objdump` checks the fixture against.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace gotrace::testing {

// The kind each allocating line of `source` (the fixture's main.go)
// declares, by line.
std::map<int64_t, std::string> declared_kinds(const std::string& source);

// Whether a call of runtime.`callee` (objdump's name without "runtime.")
// makes allocations of `kind`: the function itself, or, for a new object or
// a closure, newobject or the size-specialized allocator Go 1.26 and 1.27
// call in its place.
bool makes_kind(const std::string& callee, const std::string& kind);

}  // namespace gotrace::testing
