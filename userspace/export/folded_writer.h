// Folded stacks: one line per distinct stack, root first, frames joined by
// ';', then a space and the number of allocations. The input of
// flamegraph.pl, inferno and speedscope. Stacks deeper than the probe
// records start with a "[truncated]" root.
#pragma once

#include <string>

#include "userspace/profile/profile.h"

namespace gotrace {

struct FoldedOptions {
  bool bytes = false;       // weight by bytes instead of allocations
  bool type_frame = false;  // add the allocated type as a last frame
};

std::string encode_folded(const Profile& profile, const FoldedOptions& options = {});

}  // namespace gotrace
