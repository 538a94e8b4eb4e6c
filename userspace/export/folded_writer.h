// Folded stacks: one line per distinct stack, root first, frames joined by
// ';', then a space and the number of allocations. The input of
// flamegraph.pl, inferno and speedscope. Stacks deeper than the probe
// records start with a "[truncated]" root, stacks merged into their call
// site by the memory bound with a "[merged:--max-memory]" root. With
// `process_frame`, each line starts with its process, "compile:12345", root
// of all; without, stacks of several processes that fold alike are one
// line.
//
// Lines are sorted, and stacks that fold to the same text summed, without
// building the text: stacks are sorted as sequences of frame names, each
// name held once, and written one line at a time.
#pragma once

#include <string>

#include "base/output_file.h"
#include "base/result.h"
#include "userspace/profile/profile.h"

namespace gotrace {

struct FoldedOptions {
  bool bytes = false;       // weight by bytes instead of allocations
  bool type_frame = false;  // add the allocated type as a last frame
  bool process_frame = false;  // add the process, NAME:PID, as a first frame
};

// Streams the folded stacks into `sink`.
Status write_folded(const Profile& profile, const FoldedOptions& options, ByteSink& sink);

std::string encode_folded(const Profile& profile, const FoldedOptions& options = {});

}  // namespace gotrace
