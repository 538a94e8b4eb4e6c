// Durations as people type them on a command line.
#pragma once

#include <chrono>
#include <string>

#include "base/result.h"

namespace gotrace {

// Parses "30s", "2m", "1h30m", "1.5s", "500ms": one or more numbers, each
// with a unit (ms, s, m, h). Zero, negative and absurdly long are errors.
Result<std::chrono::nanoseconds> parse_duration(const std::string& text);

}  // namespace gotrace
