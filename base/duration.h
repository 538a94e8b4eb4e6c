// Durations as people type them on a command line.
#pragma once

#include <chrono>
#include <string>

#include "base/result.h"

namespace gotrace {

// Parses "30s", "2m", "1h30m", "1.5s", "500ms": one or more decimal numbers
// (digits, with a fraction if wanted), each with a unit (ms, s, m, h), added
// up. Everything else is refused with its cause as the error's message,
// followed by examples: empty text, white space, signs, nan and inf,
// exponents, hex, a number without a unit, an unknown unit, anything left
// over, zero, and more than a billion seconds (about 31.7 years).
Result<std::chrono::nanoseconds> parse_duration(const std::string& text);

}  // namespace gotrace
