#include "userspace/explain/profile_sites.h"

#include <algorithm>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "base/parse_integer.h"

namespace gotrace {
namespace {

// The other member of the pair a sample type belongs to: "alloc_objects"
// for "alloc_space" and the other way round.
std::optional<size_t> partner(const ReadProfile& profile, std::string_view name, std::string_view from,
                              std::string_view to) {
  if (!name.ends_with(from)) return std::nullopt;
  std::string other = std::string(name.substr(0, name.size() - from.size())) + std::string(to);
  return profile.sample_type(other);
}

void add(NamedFigures& figures, std::string_view name, int64_t value) {
  auto known = std::find_if(figures.begin(), figures.end(), [&](const auto& entry) { return entry.first == name; });
  if (known == figures.end()) figures.emplace_back(name, value);
  else known->second += value;
}

template <typename Entry>
void sort_by_value(std::vector<Entry>& entries) {
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.second > b.second; });
}

}  // namespace

std::string_view file_base_name(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

Result<SampleIndex> choose_sample_index(const ReadProfile& profile, std::string_view requested) {
  if (profile.sample_types.empty()) return Error{"the profile has no sample types"};
  std::optional<size_t> value;
  if (requested.empty()) {
    value = profile.sample_type(profile.default_sample_type);
    if (!value) value = profile.sample_types.size() - 1;
  } else if (auto number = parse_decimal(requested, 0, profile.sample_types.size() - 1)) {
    value = size_t(*number);
  } else {
    value = profile.sample_type(requested);
  }
  if (!value) {
    std::string known;
    for (const std::string& type : profile.sample_types) known += (known.empty() ? "" : ", ") + type;
    return make_error("--sample-index '{}': the profile has no such sample type (it has {})", requested, known);
  }
  SampleIndex index;
  index.name = profile.sample_types[*value];
  index.value = *value;
  const std::string& unit = profile.sample_units[*value];
  if (unit == "bytes") {
    index.bytes = value;
    index.objects = partner(profile, index.name, "_space", "_objects");
  } else {
    index.objects = value;
    index.bytes = partner(profile, index.name, "_objects", "_space");
  }
  return index;
}

ProfileSites profile_sites(const ReadProfile& profile, const SampleIndex& index) {
  ProfileSites out;
  std::map<std::tuple<std::string, std::string, int64_t>, size_t> by_leaf;
  auto value_of = [](const ProfileSample& sample, std::optional<size_t> at) {
    return at && *at < sample.values.size() ? sample.values[*at] : 0;
  };
  for (const ProfileSample& sample : profile.samples) {
    int64_t value = value_of(sample, index.value);
    int64_t objects = value_of(sample, index.objects), bytes = value_of(sample, index.bytes);
    out.total_value += value;
    out.total_objects += objects;
    out.total_bytes += bytes;
    if (sample.locations.empty() || (value == 0 && objects == 0)) continue;
    uint32_t leaf_location = sample.locations.front();
    const ProfileLocation& leaf = profile.locations[leaf_location];
    ProfileFrame unknown{fmt::format("[0x{:x}]", leaf.address), "", 0};
    const ProfileFrame& frame = leaf.frames.empty() ? unknown : leaf.frames.front();
    auto [it, inserted] = by_leaf.emplace(std::tuple{frame.function, frame.file, frame.line}, out.sites.size());
    if (inserted) {
      ProfileSite site;
      site.function = frame.function;
      site.file = frame.file;
      site.line = frame.line;
      if (leaf.frames.size() > 1) site.inlined_into.assign(leaf.frames.begin() + 1, leaf.frames.end());
      out.sites.push_back(std::move(site));
    }
    ProfileSite& site = out.sites[it->second];
    site.value += value;
    site.objects += objects;
    site.bytes += bytes;
    if (std::string_view type = sample.label("type"); !type.empty()) add(site.types, type, value);
    if (std::string_view kind = sample.label("alloc"); !kind.empty()) add(site.kinds, kind, value);
    auto known = std::find_if(site.locations.begin(), site.locations.end(),
                              [&](const auto& entry) { return entry.first == leaf_location; });
    if (known == site.locations.end()) site.locations.emplace_back(leaf_location, value);
    else known->second += value;
  }
  for (ProfileSite& site : out.sites) {
    sort_by_value(site.types);
    sort_by_value(site.kinds);
    sort_by_value(site.locations);
  }
  std::stable_sort(out.sites.begin(), out.sites.end(), [](const ProfileSite& a, const ProfileSite& b) {
    return std::tie(b.value, b.objects, a.function, a.line) < std::tie(a.value, a.objects, b.function, b.line);
  });
  return out;
}

}  // namespace gotrace
