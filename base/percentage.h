// A percentage as people type it on a command line (`3`, `0.5`, `10%`),
// read as strictly as the whole numbers of parse_integer.h.
#pragma once

#include <string_view>

#include "base/result.h"

namespace gotrace {

// Decimal digits with an optional fraction (`2.5`, `.5`) and an optional
// `%`, more than 0 and at most `most`; the result is a fraction of one
// (3 → 0.03). Refused, each with its cause: empty text, white space, signs,
// exponents, `nan`, `inf`, a second point, anything else after the number.
Result<double> parse_percentage(std::string_view text, double most);

}  // namespace gotrace
