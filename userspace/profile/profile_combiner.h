// Profiles of several processes as one. Each traced process is profiled on
// its own (profile_builder.h: its binary, its load bias, its one process and
// one mapping), and its profile is added here, so that one profile with
// per-process samples goes to every output.
//
// Memory: a trace of a build holds hundreds of profiles of one compiler. A
// profile added is taken apart as it is copied in, and what processes of one
// binary at one address share (the mapping, and the locations: an address
// of one binary resolves to the same frames in every process) is held once.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "userspace/profile/profile.h"

namespace gotrace {

class ProfileCombiner {
 public:
  // Adds the samples of `profile`'s processes, as processes of their own
  // (a pid seen twice, as after an exec, is two processes). Its mappings
  // join those equal to them; its types and kinds join those of the same
  // name; its
  // totals and in-use figures are summed. `profile` is left empty.
  void add(Profile&& profile);

  // The combined profile; the combiner is empty after.
  Profile take() &&;

 private:
  uint32_t mapping_id(Mapping&& mapping);
  // A name's index in a table of the combined profile (its type or kind
  // names), added when new.
  struct NameIds {
    std::unordered_map<std::string, uint32_t> ids;
    uint32_t id(std::vector<std::string>& names, std::string&& name);
  };
  // The index of a location equal to `location` (same mapping, address and
  // frames), added when there is none.
  uint32_t location_id(Location&& location);

  Profile combined_;
  NameIds type_ids_, kind_ids_;
  // Locations by mapping and address; one address may have several, with
  // fewer frames where some are hidden (stack_symbolizer.h).
  std::unordered_multimap<uint64_t, uint32_t> location_ids_;
};

}  // namespace gotrace
