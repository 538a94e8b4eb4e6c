#include "userspace/tui/screen_lines.h"

#include <cmath>

#include "base/text_format.h"
#include "userspace/tui/text_cells.h"

namespace gotrace {

std::string ScreenLine::text() const {
  std::string out;
  for (const Span& span : spans) out += span.text;
  return out;
}

ScreenLine compose(std::vector<Span> left, std::vector<Span> right, size_t width, Style fill) {
  auto columns = [](const std::vector<Span>& spans) {
    size_t n = 0;
    for (const Span& span : spans) n += display_width(span.text);
    return n;
  };
  size_t right_width = columns(right);
  if (columns(left) + 1 + right_width > width) {
    right.clear();
    right_width = 0;
  }
  ScreenLine line;
  size_t used = 0;
  for (Span& span : left) {
    if (used >= width) break;
    if (used + display_width(span.text) > width) span.text = pad_right(span.text, width - used);
    used += display_width(span.text);
    line.spans.push_back(std::move(span));
  }
  if (used + right_width < width) line.spans.push_back({std::string(width - used - right_width, ' '), fill});
  for (Span& span : right) line.spans.push_back(std::move(span));
  return line;
}

ScreenLine blank(size_t width) { return {{{std::string(width, ' '), Style::kNormal}}}; }

std::string format_rate_bytes(double bytes, bool compact) {
  return format_bytes(static_cast<uint64_t>(std::llround(bytes)), compact);
}

std::string format_signed_rate_bytes(double bytes) {
  std::string magnitude = format_rate_bytes(std::fabs(bytes), true);
  if (std::llround(bytes) == 0) return magnitude;
  return (bytes < 0 ? "-" : "+") + magnitude;
}

}  // namespace gotrace
