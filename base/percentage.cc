#include "base/percentage.h"

#include <fmt/format.h>

namespace gotrace {

Result<double> parse_percentage(std::string_view text, double most) {
  if (text.empty()) return make_error("empty");
  std::string_view number = text;
  if (number.back() == '%') number.remove_suffix(1);
  double whole = 0, fraction = 0, scale = 1;
  bool point = false, digits = false;
  for (char c : number) {
    if (c == '.' && !point) {
      point = true;
    } else if (c >= '0' && c <= '9') {
      digits = true;
      if (point) {
        scale /= 10;
        fraction += (c - '0') * scale;
      } else if (whole <= 1e6) {  // beyond any percentage in range: stays out of range
        whole = whole * 10 + (c - '0');
      }
    } else {
      return make_error("{} is not a digit or a decimal point (a percentage is digits, a fraction if wanted, and "
                        "an optional %: 3, 0.5, 10%)",
                        c == ' ' || c == '\t' ? std::string("white space") : fmt::format("'{}'", c));
    }
  }
  if (!digits) return make_error("no digits");
  double value = whole + fraction;
  if (value <= 0) return make_error("not more than 0%");
  if (value > most) return make_error("more than {}%", most);
  return value / 100;
}

}  // namespace gotrace
