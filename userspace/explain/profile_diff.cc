#include "userspace/explain/profile_diff.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <tuple>

namespace gotrace {
namespace {

SiteFigures figures_of(const ProfileSite& site) { return {site.value, site.objects, site.bytes}; }

}  // namespace

ProfileDiff diff_profiles(const ProfileSites& before, const ProfileSites& after) {
  ProfileDiff diff;
  diff.before = {before.total_value, before.total_objects, before.total_bytes};
  diff.after = {after.total_value, after.total_objects, after.total_bytes};
  std::map<std::tuple<std::string_view, std::string_view, int64_t>, size_t> index;
  auto change_of = [&](const ProfileSite& site) -> SiteChange& {
    auto [it, inserted] = index.emplace(std::tuple{std::string_view(site.function), file_base_name(site.file), site.line},
                                        diff.sites.size());
    if (inserted) diff.sites.push_back({site.function, site.file, site.line, "", {}, {}});
    return diff.sites[it->second];
  };
  for (const ProfileSite& site : before.sites) {
    SiteChange& change = change_of(site);
    change.before = figures_of(site);
    if (!site.kinds.empty()) change.kind = site.kinds.front().first;
  }
  for (const ProfileSite& site : after.sites) {
    SiteChange& change = change_of(site);
    change.after = figures_of(site);
    change.file = site.file;
    if (!site.kinds.empty()) change.kind = site.kinds.front().first;
  }
  auto unchanged = [](const SiteChange& c) {
    return c.before.value == c.after.value && c.before.objects == c.after.objects && c.before.bytes == c.after.bytes;
  };
  diff.unchanged = size_t(std::count_if(diff.sites.begin(), diff.sites.end(), unchanged));
  std::erase_if(diff.sites, unchanged);
  std::stable_sort(diff.sites.begin(), diff.sites.end(), [](const SiteChange& a, const SiteChange& b) {
    int64_t da = std::llabs(a.after.value - a.before.value), db = std::llabs(b.after.value - b.before.value);
    return std::tie(db, a.function, a.line) < std::tie(da, b.function, b.line);
  });
  return diff;
}

}  // namespace gotrace
