#include "userspace/profile/call_sites.h"

#include <algorithm>

#include "base/text_format.h"

namespace gotrace {

uint32_t CallSiteIndex::site_of(const Frame& leaf) {
  auto [it, inserted] = index_.emplace(std::tuple{leaf.function, leaf.file, leaf.line}, leaves_.size());
  if (inserted) leaves_.push_back(leaf);
  return it->second;
}

void SiteSum::add(std::string_view type, const WeightedTotals& totals) {
  totals_.add(totals);
  auto known = std::find_if(type_bytes_.begin(), type_bytes_.end(), [&](const auto& entry) { return entry.first == type; });
  if (known == type_bytes_.end()) type_bytes_.emplace_back(type, totals.bytes);
  else known->second += totals.bytes;
}

std::string_view SiteSum::top_type() const {
  // Of types with equal bytes, the first by name: the same answer whatever
  // order the samples came in.
  auto top = std::max_element(type_bytes_.begin(), type_bytes_.end(), [](const auto& a, const auto& b) {
    return a.second < b.second || (a.second == b.second && a.first > b.first);
  });
  return top == type_bytes_.end() ? std::string_view() : top->first;
}

std::vector<CallSite> call_sites(const Profile& profile) {
  CallSiteIndex index;
  std::vector<SiteSum> sums;
  for (const Sample& sample : profile.samples) {
    uint32_t site = index.site_of(leaf_frame(profile.locations_of(sample), profile.locations));
    if (site == sums.size()) sums.emplace_back();
    sums[site].add(profile.type_name_of(sample), {double(sample.totals.count), double(sample.totals.bytes)});
  }
  std::vector<CallSite> sites;
  for (uint32_t id = 0; id < index.size(); ++id) {
    const Frame& leaf = index.leaf(id);
    sites.push_back({std::string(leaf.function), std::string(leaf.file), leaf.line, sums[id].totals().rounded(),
                     std::string(sums[id].top_type())});
  }
  std::sort(sites.begin(), sites.end(), [](const CallSite& a, const CallSite& b) {
    return std::tie(b.totals.bytes, b.totals.count, a.function, a.line) <
           std::tie(a.totals.bytes, a.totals.count, b.function, b.line);
  });
  return sites;
}

std::string format_call_site_table(const std::vector<CallSite>& sites, const AllocationTotals& totals, size_t limit) {
  auto percent = [](uint64_t part, uint64_t whole) { return whole == 0 ? 0.0 : 100.0 * part / whole; };
  std::string out = fmt::format("{:>12} {:>6}  {:>11} {:>6}  {}\n", "ALLOCS", "%", "BYTES", "%", "CALL SITE");
  for (size_t i = 0; i < sites.size() && i < limit; ++i) {
    const CallSite& site = sites[i];
    out += fmt::format("{:>12} {:>5.1f}%  {:>11} {:>5.1f}%  {} {}:{}{}\n", site.totals.count,
                       percent(site.totals.count, totals.count), format_bytes(site.totals.bytes),
                       percent(site.totals.bytes, totals.bytes), site.function, site.file, site.line,
                       " [" + site.top_type + "]");
  }
  return out;
}

}  // namespace gotrace
