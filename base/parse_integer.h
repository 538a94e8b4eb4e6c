// Whole numbers as people type them on a command line, read strictly: a
// value that is not exactly a number in range is an error that says why,
// never a silent zero, a wrapped negative or a number read up to a typo.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.h"

namespace gotrace {

// Decimal digits only, from `least` to `most`. Refused, each with its cause
// as the error's message: empty text, white space, a sign, a base prefix
// ("0x"), an exponent or a fraction, anything after the digits, and values
// out of range (however many digits).
Result<uint64_t> parse_decimal(std::string_view text, uint64_t least, uint64_t most);

// Hexadecimal digits, with or without "0x", at most 64 bits.
Result<uint64_t> parse_hexadecimal(std::string_view text);

}  // namespace gotrace
