// What the tests hold every traced run of a fixture to.
#pragma once

#include <cstdint>
#include <string>

namespace gotrace::testing {

// Whether `got` is within max(3, 0.1%) of `want`: where the runtime may
// allocate for itself inside a site, or a stack may be seen a few more times
// than the runtime's profile had published.
bool nearly_equal(int64_t got, int64_t want);

// That gotrace's summary on stderr reports no lost event and no stack that
// the probe cut short.
void expect_nothing_lost(const std::string& gotrace_stderr);

}  // namespace gotrace::testing
