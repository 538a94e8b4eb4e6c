// One-line hints for allocation patterns Go programmers know well, by the
// site's allocation kind (profile/allocation_kind.h) and what the compiler
// said of its line: append growth (preallocate), an interface conversion,
// string concatenation (strings.Builder), a closure that escapes, ... They
// are worded as hints: gotrace sees what the site allocates, not the
// program's intent, and a pattern can be right where it is.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace gotrace {

struct HintContext {
  std::string_view kind;    // the site's top allocation kind
  int64_t objects = 0;      // what the site allocated
  int64_t bytes = 0;
  // What the compiler's escape analysis said at the line ("moved to heap:
  // v", "make([]int, n) escapes to heap", ...); empty when not asked.
  std::span<const std::string> compiler_says;
};

// The hint for a site, "" when no well-known pattern fits.
std::string allocation_hint(const HintContext& context);

}  // namespace gotrace
