#include "userspace/tui/text_cells.h"

namespace gotrace {
namespace {

bool continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xc0) == 0x80; }

// The byte offset after the first `columns` code points of `text`.
size_t bytes_of_first(std::string_view text, size_t columns) {
  size_t at = 0;
  for (size_t seen = 0; at < text.size(); ++at) {
    if (continuation_byte(text[at])) continue;
    if (seen++ == columns) break;
  }
  return at;
}

}  // namespace

size_t display_width(std::string_view text) {
  size_t width = 0;
  for (char c : text) width += !continuation_byte(c);
  return width;
}

std::string keep_head(std::string_view text, size_t width, std::string_view ellipsis) {
  size_t length = display_width(text);
  if (length <= width) return std::string(text);
  size_t marker = display_width(ellipsis);
  if (width <= marker) return std::string(text.substr(0, bytes_of_first(text, width)));
  return std::string(text.substr(0, bytes_of_first(text, width - marker))) + std::string(ellipsis);
}

std::string keep_tail(std::string_view text, size_t width, std::string_view ellipsis) {
  size_t length = display_width(text);
  if (length <= width) return std::string(text);
  size_t marker = display_width(ellipsis);
  if (width <= marker) return std::string(text.substr(bytes_of_first(text, length - width)));
  return std::string(ellipsis) + std::string(text.substr(bytes_of_first(text, length - (width - marker))));
}

std::string pad_right(std::string_view text, size_t width) {
  std::string out(text.substr(0, bytes_of_first(text, width)));
  out.append(width - display_width(out), ' ');
  return out;
}

std::string pad_left(std::string_view text, size_t width) {
  std::string_view cut = text.substr(0, bytes_of_first(text, width));
  return std::string(width - display_width(cut), ' ') + std::string(cut);
}

std::string utf8(char32_t c) {
  std::string out;
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xc0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xe0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else if (c < 0x110000) {
    out += static_cast<char>(0xf0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  }
  return out;
}

std::string_view drop_last_code_point(std::string_view text) {
  if (text.empty()) return text;
  size_t at = text.size() - 1;
  while (at > 0 && continuation_byte(text[at])) --at;
  return text.substr(0, at);
}

}  // namespace gotrace
