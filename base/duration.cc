#include "base/duration.h"

#include <cctype>
#include <charconv>
#include <optional>
#include <string_view>

#include "base/text_format.h"

namespace gotrace {
namespace {

constexpr double kMostSeconds = 1e9;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_letter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// Nanoseconds in one `unit`, or nullopt for a unit gotrace does not take.
std::optional<double> unit_nanoseconds(std::string_view unit) {
  if (unit == "ms") return 1e6;
  if (unit == "s") return 1e9;
  if (unit == "m") return 60e9;
  if (unit == "h") return 3600e9;
  return std::nullopt;
}

// Splits the leading number ("12", "1.5", ".5") off `rest`; "" when there is none.
std::string_view take_number(std::string_view* rest) {
  size_t n = 0;
  while (n < rest->size() && is_digit((*rest)[n])) ++n;
  if (n < rest->size() && (*rest)[n] == '.') {
    ++n;
    while (n < rest->size() && is_digit((*rest)[n])) ++n;
  }
  std::string_view number = rest->substr(0, n);
  if (number == ".") number = {};
  rest->remove_prefix(number.size());
  return number;
}

// Why the unit that should follow `number` is not one.
Error refuse_unit(std::string_view number, std::string_view unit, std::string_view tail) {
  if (unit.empty() && tail.empty()) return make_error("{} has no unit", quote(number));
  if (unit.empty()) return make_error("{} after {}", quote(tail), quote(number));
  if (number == "0" && (unit.front() == 'x' || unit.front() == 'X')) return make_error("hexadecimal is not allowed");
  bool exponent = (unit.front() == 'e' || unit.front() == 'E') && unit.size() == 1 && !tail.empty() &&
                  (is_digit(tail.front()) || tail.front() == '+' || tail.front() == '-');
  if (exponent) return make_error("an exponent is not allowed");
  return make_error("unknown unit {}", quote(unit));
}

// The duration `text` says, in nanoseconds, or why it says none.
Result<double> add_up(std::string_view text) {
  if (text.empty()) return make_error("empty");
  for (char c : text)
    if (std::isspace(static_cast<unsigned char>(c))) return make_error("white space is not allowed");
  if (text.front() == '-') return make_error("negative");
  if (text.front() == '+') return make_error("a sign is not allowed");
  double total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    std::string_view number = take_number(&rest);
    if (number.empty()) return make_error("{} does not start with a number", quote(rest));
    size_t letters = 0;
    while (letters < rest.size() && is_letter(rest[letters])) ++letters;
    std::string_view unit = rest.substr(0, letters);
    rest.remove_prefix(letters);
    auto nanoseconds = unit_nanoseconds(unit);
    if (!nanoseconds) return refuse_unit(number, unit, rest);
    double value = 0;
    std::from_chars(number.data(), number.data() + number.size(), value);  // digits and a dot: always a number
    total += value * *nanoseconds;
  }
  return total;
}

}  // namespace

Result<std::chrono::nanoseconds> parse_duration(const std::string& text) {
  auto with_examples = [](const Error& cause) {
    return make_error("{} (units ms, s, m, h: e.g. 30s, 2m, 1h30m, 500ms)", cause.message);
  };
  auto total = add_up(text);
  if (!total) return with_examples(total.error());
  if (*total > kMostSeconds * 1e9)
    return with_examples(make_error("longer than {:.0f}s (about 31.7 years), the most allowed", kMostSeconds));
  if (*total == 0) return with_examples(make_error("zero is not allowed"));
  if (*total < 1) return with_examples(make_error("shorter than a nanosecond"));
  return std::chrono::nanoseconds(static_cast<int64_t>(*total));
}

}  // namespace gotrace
