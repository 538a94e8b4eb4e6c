// What the tests hold every traced run of a fixture to, and the allocs
// fixture's runs in particular: its own report (allocs_report.h) against
// the profile gotrace wrote (pprof_raw.h), site by site.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "tests/integration/allocs_report.h"
#include "tests/integration/pprof_raw.h"

namespace gotrace::testing {

// Whether `got` is within max(3, 0.1%) of `want`: where the runtime may
// allocate for itself inside a site, or a stack may be seen a few more times
// than the runtime's profile had published.
bool nearly_equal(int64_t got, int64_t want);

// That gotrace's summary on stderr reports no lost event and no stack that
// the probe cut short.
void expect_nothing_lost(const std::string& gotrace_stderr);

// Exact tracing of the allocs workload: every allocation request is one
// object, the tiny allocator's included. With the collector off
// (`collecting` false) exactly what the fixture did; with it on, within
// max(3, 0.1%). On failure, the profile's busiest leaves and what gotrace
// said.
void expect_objects_at_every_site(const AllocsReport& report, PprofSites& got, bool collecting,
                                  const std::string& gotrace_stderr);

// Exact tracing: bytes, and objects too, agree with the runtime's own exact
// profile at every site the fixture made, except where the tiny allocator
// served it (the runtime records one object per 16-byte block there). With
// the collector on, within max(3, 0.1%), and not the bytes of the string
// site.
struct RuntimeComparison {
  int sites = 0;
  int64_t largest_difference = 0;  // in objects
};
RuntimeComparison expect_sites_match_the_runtime(const AllocsReport& report, PprofSites& got, bool collecting);

// The type of each site's allocations, as the fixture's own reflect names
// it. Inside generic code the runtime is handed the instantiation's GC
// shape (main.Box[go.shape.int] for main.Box[int]), so there only the
// generic type's name is compared.
void expect_types_at_every_site(const AllocsReport& report, PprofSites& got);

// The folded stacks of exact tracing: root first, the site's function last,
// counts summed. As in Go's own profiles there is no runtime.goexit root: a
// stack of the main goroutine starts at runtime.main, one of a goroutine the
// fixture started at that goroutine's own function.
void expect_folded_stacks(const AllocsReport& report, const std::string& folded_text, bool collecting);

// --heap at MemProfileRate 1: every site of the workload, the tiny
// allocator's included, equals the runtime's own profile of the same run,
// as both count what the runtime sampled. Returns the sites compared.
std::set<std::string> expect_sampled_sites_equal_the_runtime(const AllocsReport& report, PprofSites& got);

// allocs keep at MemProfileRate 1, in either mode: the profile has in-use
// figures, now and at the peak, and they are exactly what the fixture kept
// (3000 records at main.siteKept, none of the pairs it dropped at
// main.siteDropped) and what the runtime's own profile says is in use.
void expect_in_use_is_what_keep_kept(const AllocsReport& report, PprofSites& sites);

}  // namespace gotrace::testing
