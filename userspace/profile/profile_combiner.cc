#include "userspace/profile/profile_combiner.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace gotrace {
namespace {

bool same_frames(const std::vector<Frame>& a, const std::vector<Frame>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const Frame& x, const Frame& y) {
    return x.function == y.function && x.file == y.file && x.line == y.line && x.start_line == y.start_line &&
           x.inlined == y.inlined;
  });
}

// User-space addresses take 47 bits: the mapping goes above them.
uint64_t location_key(uint32_t mapping, uint64_t address) { return address ^ uint64_t(mapping) << 48; }

// Gives a table's memory back once it has been copied in.
template <class T>
void release(std::vector<T>& table) {
  std::vector<T>().swap(table);
}

}  // namespace

uint32_t ProfileCombiner::mapping_id(Mapping&& mapping) {
  // A trace has few binaries: a search does.
  auto known = std::find(combined_.mappings.begin(), combined_.mappings.end(), mapping);
  if (known != combined_.mappings.end()) return uint32_t(known - combined_.mappings.begin());
  combined_.mappings.push_back(std::move(mapping));
  return uint32_t(combined_.mappings.size() - 1);
}

uint32_t ProfileCombiner::NameIds::id(std::vector<std::string>& names, std::string&& name) {
  auto [it, inserted] = ids.emplace(name, uint32_t(names.size()));
  if (inserted) names.push_back(std::move(name));
  return it->second;
}

uint32_t ProfileCombiner::location_id(Location&& location) {
  uint64_t key = location_key(location.mapping, location.address);
  auto [first, last] = location_ids_.equal_range(key);
  for (auto it = first; it != last; ++it) {
    const Location& known = combined_.locations[it->second];
    if (known.mapping == location.mapping && known.address == location.address &&
        same_frames(known.frames, location.frames))
      return it->second;
  }
  uint32_t id = uint32_t(combined_.locations.size());
  combined_.locations.push_back(std::move(location));
  location_ids_.emplace(key, id);
  return id;
}

void ProfileCombiner::add(Profile&& profile) {
  Profile from = std::move(profile);
  profile = Profile();

  std::vector<uint32_t> mappings;  // from's index to the combined one, and so on below
  for (Mapping& mapping : from.mappings) mappings.push_back(mapping_id(std::move(mapping)));
  std::vector<uint32_t> locations;
  locations.reserve(from.locations.size());
  for (Location& location : from.locations) {
    location.mapping = mappings[location.mapping];
    locations.push_back(location_id(std::move(location)));
  }
  release(from.locations);
  std::vector<uint32_t> types;
  for (std::string& name : from.type_names) types.push_back(type_ids_.id(combined_.type_names, std::move(name)));
  release(from.type_names);
  std::vector<uint32_t> kinds;
  for (std::string& name : from.kind_names) kinds.push_back(kind_ids_.id(combined_.kind_names, std::move(name)));

  auto first_process = uint32_t(combined_.processes.size());
  for (ProcessLabel& process : from.processes) {
    process.mapping = mappings[process.mapping];
    combined_.processes.push_back(std::move(process));
  }
  // Samples keep their order, and their locations stay one run each.
  auto offset = uint32_t(combined_.stack_locations.size());
  for (uint32_t location : from.stack_locations) combined_.stack_locations.push_back(locations[location]);
  release(from.stack_locations);
  for (Sample sample : from.samples) {
    sample.first += offset;
    sample.type = types[sample.type];
    if (sample.kind < kinds.size()) sample.kind = uint16_t(kinds[sample.kind]);
    sample.process += first_process;
    combined_.samples.push_back(sample);
  }
  release(from.samples);

  combined_.totals.count += from.totals.count;
  combined_.totals.bytes += from.totals.bytes;
  combined_.inuse.count += from.inuse.count;
  combined_.inuse.bytes += from.inuse.bytes;
  combined_.has_inuse |= from.has_inuse;
}

Profile ProfileCombiner::take() && {
  type_ids_ = {};
  kind_ids_ = {};
  location_ids_.clear();
  return std::move(combined_);
}

}  // namespace gotrace
