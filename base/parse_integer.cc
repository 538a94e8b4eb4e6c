#include "base/parse_integer.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string>

#include "base/text_format.h"

namespace gotrace {
namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Why `text` does not start as a number does: the causes every number
// shares, or nullopt when it starts with a digit (or, for hex, may).
std::optional<Error> refuse_shape(std::string_view text) {
  if (text.empty()) return make_error("empty");
  if (std::any_of(text.begin(), text.end(), is_space)) return make_error("white space is not allowed");
  if (text.front() == '-') return make_error("negative");
  if (text.front() == '+') return make_error("a sign is not allowed");
  return std::nullopt;
}

// What follows the digits of a decimal number, said as a person would.
Error refuse_tail(std::string_view digits, std::string_view tail) {
  char next = tail.front();
  if (digits == "0" && (next == 'x' || next == 'X'))
    return make_error("hexadecimal is not allowed (decimal digits only)");
  if ((next == 'e' || next == 'E') && tail.size() > 1 && (is_digit(tail[1]) || tail[1] == '+' || tail[1] == '-'))
    return make_error("an exponent is not allowed (decimal digits only)");
  if (next == '.' || next == ',') return make_error("a fraction is not allowed (a whole number only)");
  return make_error("{} after the number", quote(tail));
}

}  // namespace

Result<uint64_t> parse_decimal(std::string_view text, uint64_t least, uint64_t most) {
  if (auto refused = refuse_shape(text)) return *refused;
  size_t digit_count = std::find_if_not(text.begin(), text.end(), is_digit) - text.begin();
  if (digit_count == 0) return make_error("not a decimal number");
  std::string_view digits = text.substr(0, digit_count);
  if (digit_count < text.size()) return refuse_tail(digits, text.substr(digit_count));
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && value > most))
    return make_error("more than {}, the most allowed", most);
  if (ec != std::errc()) return make_error("not a decimal number");
  if (value < least) {
    if (value == 0) return make_error("zero is not allowed (at least {})", least);
    return make_error("less than {}, the least allowed", least);
  }
  return value;
}

Result<uint64_t> parse_hexadecimal(std::string_view text) {
  if (auto refused = refuse_shape(text)) return *refused;
  std::string_view digits = text;
  if (digits.starts_with("0x") || digits.starts_with("0X")) digits.remove_prefix(2);
  if (digits.empty()) return make_error("no digits after '0x'");
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, 16);
  if (ec == std::errc::result_out_of_range) return make_error("more than 64 bits");
  if (ec != std::errc() || end == digits.data()) return make_error("not a hexadecimal number");
  if (end != digits.data() + digits.size())
    return make_error("{} after the number", quote(digits.substr(end - digits.data())));
  return value;
}

}  // namespace gotrace
