// Sizes in bytes as people type them on a command line (--max-memory).
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"

namespace gotrace {

// Parses a number, whole or with a decimal fraction, followed by a unit:
// B or none for bytes; K, M, G, T or KiB, MiB, GiB, TiB for powers of 1024;
// KB, MB, GB, TB for powers of 1000. Units are case-insensitive ("512m",
// "1GiB", "1.5g"); a fraction of a byte is dropped. No sign, no spaces, no
// exponent; zero and sizes beyond 2^62 bytes are errors.
Result<uint64_t> parse_byte_size(const std::string& text);

}  // namespace gotrace
