// The screen model's lines as the tests of the live view read them.
#pragma once

#include <string>
#include <vector>

#include "userspace/tui/screen_model.h"

namespace gotrace {

// Each line's text, without its styles.
inline std::vector<std::string> text(const std::vector<ScreenLine>& lines) {
  std::vector<std::string> out;
  for (const ScreenLine& line : lines) out.push_back(line.text());
  return out;
}

// The lines, each between bars, for a failure message: trailing spaces show.
inline std::string dump(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += "|" + line + "|\n";
  return out;
}

}  // namespace gotrace
