// Fitting text into a terminal's columns. Text is UTF-8 and each code point
// is taken to fill one column, which holds for the names Go programs use.
#pragma once

#include <string>
#include <string_view>

namespace gotrace {

// The columns `text` fills.
size_t display_width(std::string_view text);

// `text` in at most `width` columns. When it is longer, its end is cut and
// `ellipsis` put in its place ("main.Record…").
std::string keep_head(std::string_view text, size_t width, std::string_view ellipsis);
// The same, cutting the start: the informative end of a function name or a
// path survives ("…store.(*Cache).Put").
std::string keep_tail(std::string_view text, size_t width, std::string_view ellipsis);

// `text` cut to `width` columns (no ellipsis), then padded with spaces to exactly `width`.
std::string pad_right(std::string_view text, size_t width);
std::string pad_left(std::string_view text, size_t width);

// The UTF-8 encoding of one code point.
std::string utf8(char32_t code_point);
// `text` without its last code point.
std::string_view drop_last_code_point(std::string_view text);

}  // namespace gotrace
