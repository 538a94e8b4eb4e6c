// `gotrace info`: what gotrace sees in a Go binary or a running Go process.
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "base/result.h"

namespace gotrace {

struct InfoOptions {
  std::string target;      // a path, or the text of `pid`
  std::optional<int> pid;  // the process (or a thread of it) to look at, instead of a file
  bool json = false;
};

Status run_info(const InfoOptions& options, std::ostream& out);

}  // namespace gotrace
