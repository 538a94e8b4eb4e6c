// Numbers as people read them in a terminal or a log.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gotrace {

// "512 B", "1.2 KiB", "34.5 MiB": binary units, one decimal. `compact`
// drops the decimal from 100 up ("256 KiB"), for narrow table columns.
std::string format_bytes(uint64_t bytes, bool compact = false);
// "987", "12.3k", "1.2M": SI units, one decimal; a fraction below 10 keeps
// one decimal too ("0.5"), so that a rare site's rate does not read as 0.
std::string format_count(double count);
// `text` in single quotes for a one-line message, with control characters
// (newlines, escape sequences) written as \xNN so that they can neither
// break the line nor drive the terminal.
std::string quote(std::string_view text);

}  // namespace gotrace
