#include "base/byte_size.h"

#include <array>
#include <cctype>
#include <string_view>
#include <utility>

namespace gotrace {
namespace {

constexpr uint64_t kLargest = uint64_t(1) << 62;

// The multiplier of a unit, 0 for none known; `unit` is lower-cased.
uint64_t unit_bytes(std::string_view unit) {
  constexpr uint64_t kKi = 1024, kK = 1000;
  static constexpr std::array<std::pair<std::string_view, uint64_t>, 14> kUnits{{
      {"", 1}, {"b", 1},
      {"k", kKi}, {"kib", kKi}, {"kb", kK},
      {"m", kKi * kKi}, {"mib", kKi * kKi}, {"mb", kK * kK},
      {"g", kKi * kKi * kKi}, {"gib", kKi * kKi * kKi}, {"gb", kK * kK * kK},
      {"t", kKi * kKi * kKi * kKi}, {"tib", kKi * kKi * kKi * kKi}, {"tb", kK * kK * kK * kK},
  }};
  for (const auto& [name, bytes] : kUnits)
    if (name == unit) return bytes;
  return 0;
}

}  // namespace

Result<uint64_t> parse_byte_size(const std::string& text) {
  auto bad = [] { return make_error("use a number and a unit, e.g. 256MiB, 1GiB, 512m"); };
  size_t digits_end = 0;
  while (digits_end < text.size() && std::isdigit(static_cast<unsigned char>(text[digits_end]))) ++digits_end;
  size_t fraction_end = digits_end;
  if (fraction_end < text.size() && text[fraction_end] == '.') {
    ++fraction_end;
    while (fraction_end < text.size() && std::isdigit(static_cast<unsigned char>(text[fraction_end]))) ++fraction_end;
    // "1." and ".5" are typing mistakes more likely than sizes.
    if (fraction_end == digits_end + 1 || digits_end == 0) return bad();
  }
  if (digits_end == 0) return bad();
  std::string unit;
  for (char c : std::string_view(text).substr(fraction_end)) unit += char(std::tolower(static_cast<unsigned char>(c)));
  uint64_t multiplier = unit_bytes(unit);
  if (multiplier == 0) return bad();

  // Whole part, then the fraction digit by digit: exact, with no rounding
  // through floating point.
  uint64_t whole = 0;
  for (size_t i = 0; i < digits_end; ++i) {
    if (whole > kLargest / 10) return bad();
    whole = whole * 10 + uint64_t(text[i] - '0');
  }
  if (whole > kLargest / multiplier) return bad();
  uint64_t bytes = whole * multiplier;
  // The fraction as digits over a power of ten; digits past the 18th are
  // far below a byte for any unit.
  unsigned __int128 numerator = 0, denominator = 1;
  for (size_t i = digits_end + 1; i < fraction_end && i <= digits_end + 18; ++i) {
    numerator = numerator * 10 + uint64_t(text[i] - '0');
    denominator *= 10;
  }
  bytes += uint64_t(numerator * multiplier / denominator);
  if (bytes == 0 || bytes > kLargest) return bad();
  return bytes;
}

}  // namespace gotrace
