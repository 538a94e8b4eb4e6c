// What the allocs fixture (tests/fixtures/allocs) prints about its own run:
// the allocations each site made, the types it allocated, and the runtime's
// own exact heap profile of them (and, in its keep mode, what is in use).
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <utility>

namespace gotrace::testing {

// A function name with the type arguments of generic functions and types
// collapsed to "[...]", as runtime.CallersFrames prints them from Go 1.21 on:
// "main.F[go.shape.int]" and "main.F[go.shape.string_0]" are both
// "main.F[...]". The allocs fixture names its sites the way its runtime
// prints them; this compares them with gotrace's names whichever form each
// uses (both instantiations of a generic site are then counted together).
std::string collapse_type_arguments(const std::string& name);

// A call site: its function, type arguments collapsed, and line.
using SiteKey = std::pair<std::string, int64_t>;

struct ObjectsAndBytes {
  int64_t objects = 0;
  int64_t bytes = 0;
  friend bool operator==(const ObjectsAndBytes&, const ObjectsAndBytes&) = default;
  friend void PrintTo(const ObjectsAndBytes& totals, std::ostream* out) {
    *out << totals.objects << " objects, " << totals.bytes << " bytes";
  }
};

struct AllocsReport {
  struct Expected {
    int64_t count = 0;
    int64_t size = 0;   // bytes requested by each allocation
    bool tiny = false;  // served by the tiny allocator
  };
  std::map<std::string, Expected> expected;         // by function, summed over instantiations
  std::map<SiteKey, ObjectsAndBytes> runtime_sites;  // the runtime's own profile
  std::map<std::string, std::set<std::string>> types;  // by function: reflect names of the types allocated there
  int64_t collections = -1;                          // during the workload
  std::map<std::string, ObjectsAndBytes> runtime_inuse;  // by function: the runtime's in-use figures (keep mode)
};

// Reads the report from the fixture's standard output.
AllocsReport parse_allocs_report(const std::string& output);

// Figures summed over the lines of each function.
std::map<std::string, ObjectsAndBytes> sum_by_function(const std::map<SiteKey, ObjectsAndBytes>& by_site);

}  // namespace gotrace::testing
