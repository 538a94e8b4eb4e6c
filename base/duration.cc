#include "base/duration.h"

#include <charconv>
#include <string_view>

namespace gotrace {

Result<std::chrono::nanoseconds> parse_duration(const std::string& text) {
  auto bad = [&] { return make_error("'{}': not a duration (use e.g. 30s, 2m, 1h30m, 500ms)", text); };
  if (text.empty()) return bad();
  double total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    double value = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    if (ec != std::errc() || value < 0) return bad();
    rest.remove_prefix(end - rest.data());
    double unit;
    if (rest.starts_with("ms")) unit = 1e6, rest.remove_prefix(2);
    else if (rest.starts_with("s")) unit = 1e9, rest.remove_prefix(1);
    else if (rest.starts_with("m")) unit = 60e9, rest.remove_prefix(1);
    else if (rest.starts_with("h")) unit = 3600e9, rest.remove_prefix(1);
    else return bad();
    total += value * unit;
  }
  if (total <= 0 || total > 1e18) return bad();
  return std::chrono::nanoseconds(static_cast<int64_t>(total));
}

}  // namespace gotrace
