// `gotrace explain`: why a profile's top call sites allocate, one story a
// site (explain/explanation.h); and `--diff`, how two profiles' sites
// changed (explain/profile_diff.h).
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include "base/result.h"

namespace gotrace {

struct ExplainOptions {
  std::string profile;
  std::string binary;        // instead of the profile's mapping; "" for the mapping's own path
  std::string source;        // the module the binary was built from, or a directory above it; "" for none
  std::string sample_index;  // "" for the profile's default
  size_t top = 10;
  bool json = false;
  std::vector<std::string> diff;  // BEFORE and AFTER, for --diff
};

// Writes the explanation, or the diff, to `out`.
Status run_explain(const ExplainOptions& options, std::ostream& out);

}  // namespace gotrace
