// What the screen model's drawing files share: fitting spans into a line of
// the terminal's width, and writing the byte figures, which are rates and
// estimates and so not whole numbers.
#pragma once

#include <string>
#include <vector>

#include "userspace/tui/screen_model.h"

namespace gotrace {

// A line of `width` columns: `left` from the start, `right` against the end
// when there is room for it, spaces between in `fill`'s style.
ScreenLine compose(std::vector<Span> left, std::vector<Span> right, size_t width, Style fill = Style::kNormal);

// `width` columns of nothing.
ScreenLine blank(size_t width);

// `bytes` rounded to a whole number, then as format_bytes writes it.
std::string format_rate_bytes(double bytes, bool compact = false);
// The same, compact, with its sign: "+1.2 MiB", "-512 KiB", "0 B".
std::string format_signed_rate_bytes(double bytes);

}  // namespace gotrace
