#include "base/text_format.h"

#include <cmath>

#include <fmt/format.h>

namespace gotrace {

std::string format_bytes(uint64_t bytes, bool compact) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = bytes;
  int unit = 0;
  // 1023.96 KiB would print as "1024.0 KiB": move up a unit before rounding does.
  while (value >= 1023.95 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  if (unit == 0) return fmt::format("{} B", bytes);
  if (compact && value >= 99.95) return fmt::format("{:.0f} {}", value, kUnits[unit]);
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string format_count(double count) {
  static const char* kUnits[] = {"", "k", "M", "G", "T", "P"};
  if (count < 999.5) {
    bool fraction = count < 9.95 && count != std::floor(count);
    return fraction ? fmt::format("{:.1f}", count) : fmt::format("{:.0f}", count);
  }
  double value = count;
  int unit = 0;
  while (value >= 999.95 && unit < 5) {
    value /= 1000;
    ++unit;
  }
  return fmt::format("{:.1f}{}", value, kUnits[unit]);
}

std::string quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) out += fmt::format("\\x{:02x}", byte);
    else out += c;
  }
  return out + "'";
}

}  // namespace gotrace
