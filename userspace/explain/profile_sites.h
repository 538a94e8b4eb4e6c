// A profile's call sites, for `gotrace explain`: its samples summed by the
// leaf frame (function, file, line), the way the table gotrace prints at the
// end of a trace counts them, with what explain tells of each: the
// functions the site was inlined into, its types and allocation kinds (the
// `type` and `alloc` labels), and the addresses it allocates from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "userspace/explain/profile_reader.h"

namespace gotrace {

// Which of a profile's values sites are ranked by, and the count and the
// bytes that go with it: alloc_space ranks, alloc_objects and alloc_space
// are shown; the same for inuse_ and peak_inuse_.
struct SampleIndex {
  std::string name;              // "alloc_space"
  size_t value = 0;              // index into the sample's values
  std::optional<size_t> objects;  // "alloc_objects", where the profile has it
  std::optional<size_t> bytes;    // "alloc_space", the same
};

// The sample index `requested` names (a sample type's name, or its number
// from 0, as `go tool pprof -sample_index` takes), or where `requested` is
// empty the profile's default (its last type when it names none, as pprof
// does). An unknown one is an error that lists the profile's types.
Result<SampleIndex> choose_sample_index(const ReadProfile& profile, std::string_view requested);

// Names with their figures, the most first.
using NamedFigures = std::vector<std::pair<std::string, int64_t>>;

struct ProfileSite {
  std::string function;
  std::string file;
  int64_t line = 0;
  // The functions the site's function was inlined into, innermost first,
  // each at the line of its call; empty when it was not inlined.
  std::vector<ProfileFrame> inlined_into;
  int64_t value = 0;    // by the sample index
  int64_t objects = 0;  // 0 where the profile does not count them
  int64_t bytes = 0;
  NamedFigures types;   // by value: the `type` label
  NamedFigures kinds;   // by value: the `alloc` label (profile/allocation_kind.h)
  // The leaf locations it allocates from (indexes into the profile's
  // locations), by value: one per distinct call instruction.
  std::vector<std::pair<uint32_t, int64_t>> locations;
};

struct ProfileSites {
  std::vector<ProfileSite> sites;  // by value, the most first
  int64_t total_value = 0;
  int64_t total_objects = 0;
  int64_t total_bytes = 0;
};

// The file name of a path without its directories: how explain shows a
// site's file, and how --diff tells the same file built in two places.
std::string_view file_base_name(std::string_view path);

// Every sample with a stack, summed by its leaf frame.
ProfileSites profile_sites(const ReadProfile& profile, const SampleIndex& index);

}  // namespace gotrace
