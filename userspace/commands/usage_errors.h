// How the command line's errors are printed: one "gotrace: error:" line
// each, and the exit codes of commands/exit_codes.h.
#pragma once

#include <iostream>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/text_format.h"
#include "userspace/commands/exit_codes.h"

namespace gotrace {

// An error of several lines (every output that cannot be written, say) is
// one "gotrace: error:" line each.
inline void print_error(const Error& error) {
  std::string_view rest = error.message;
  do {
    size_t end = rest.find('\n');
    std::cerr << "gotrace: error: " << rest.substr(0, end) << '\n';
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  } while (!rest.empty());
}

inline int report(const Error& error) {
  print_error(error);
  return kExitFailure;
}

// A value given on the command line that is not what `flag` takes: one line
// that names the flag, the value as typed, and why.
inline int bad_value(std::string_view flag, const std::string& text, std::string_view expected, const Error& cause) {
  std::cerr << fmt::format("gotrace: error: {} {}: not {}: {}\n", flag, quote(text), expected, cause.message);
  return kExitUsage;
}

}  // namespace gotrace
