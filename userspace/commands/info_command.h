// `gotrace info`: what gotrace sees in a Go binary or a running Go process.
#pragma once

#include <ostream>
#include <string>

#include "base/result.h"

namespace gotrace {

struct InfoOptions {
  std::string target;  // a path, or a pid when it is all digits and no such file exists
  bool json = false;
};

Status run_info(const InfoOptions& options, std::ostream& out);

}  // namespace gotrace
