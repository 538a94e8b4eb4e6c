#include "userspace/profile/call_sites.h"

#include <algorithm>

#include "base/text_format.h"

namespace gotrace {

uint32_t CallSiteIndex::site_of(const Frame& leaf) {
  auto [it, inserted] = index_.emplace(std::tuple{leaf.function, leaf.file, leaf.line}, leaves_.size());
  if (inserted) leaves_.push_back(leaf);
  return it->second;
}

void TopByBytes::add(std::string_view name, double bytes) {
  auto known = std::find_if(bytes_.begin(), bytes_.end(), [&](const auto& entry) { return entry.first == name; });
  if (known == bytes_.end()) bytes_.emplace_back(name, bytes);
  else known->second += bytes;
}

std::string_view TopByBytes::top() const {
  // Of names with equal bytes, the first by name: the same answer whatever
  // order the samples came in.
  auto top = std::max_element(bytes_.begin(), bytes_.end(), [](const auto& a, const auto& b) {
    return a.second < b.second || (a.second == b.second && a.first > b.first);
  });
  return top == bytes_.end() ? std::string_view() : top->first;
}

void SiteSum::add(std::string_view type, std::string_view kind, const WeightedTotals& totals) {
  totals_.add(totals);
  types_.add(type, totals.bytes);
  kinds_.add(kind, totals.bytes);
}

std::vector<CallSite> call_sites(const Profile& profile) {
  // A site is a leaf frame, in a profile of several processes a leaf frame
  // of one process.
  bool per_process = profile.processes.size() > 1;
  CallSiteIndex leaves;
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> site_ids;  // by process and leaf
  std::vector<std::pair<uint32_t, uint32_t>> site_keys;        // by site
  std::vector<SiteSum> sums;                                   // by site
  for (const Sample& sample : profile.samples) {
    uint32_t leaf = leaves.site_of(leaf_frame(profile.locations_of(sample), profile.locations));
    auto [it, inserted] = site_ids.emplace(std::pair{per_process ? sample.process : 0, leaf}, sums.size());
    if (inserted) {
      site_keys.push_back(it->first);
      sums.emplace_back();
    }
    sums[it->second].add(profile.type_name_of(sample), profile.kind_of(sample),
                         {double(sample.totals.count), double(sample.totals.bytes)});
  }
  std::vector<CallSite> sites;
  for (uint32_t id = 0; id < sums.size(); ++id) {
    auto [process, leaf_id] = site_keys[id];
    const Frame& leaf = leaves.leaf(leaf_id);
    std::string process_name =
        per_process && process < profile.processes.size() ? process_name_and_pid(profile.processes[process]) : "";
    sites.push_back({process_name, std::string(leaf.function), std::string(leaf.file), leaf.line,
                     sums[id].totals().rounded(), std::string(sums[id].top_type()), std::string(sums[id].top_kind())});
  }
  std::sort(sites.begin(), sites.end(), [](const CallSite& a, const CallSite& b) {
    return std::tie(b.totals.bytes, b.totals.count, a.function, a.line, a.process) <
           std::tie(a.totals.bytes, a.totals.count, b.function, b.line, b.process);
  });
  return sites;
}

std::string format_call_site_table(const std::vector<CallSite>& sites, const AllocationTotals& totals, size_t limit) {
  auto percent = [](uint64_t part, uint64_t whole) { return whole == 0 ? 0.0 : 100.0 * part / whole; };
  size_t shown = std::min(sites.size(), limit);
  // The process column is as wide as the widest process shown, and only there when sites name one.
  size_t process_width = 0;
  for (size_t i = 0; i < shown; ++i) process_width = std::max(process_width, sites[i].process.size());
  auto process_cell = [&](std::string_view process) {
    return process_width == 0 ? std::string() : fmt::format("{:<{}}  ", process, std::max<size_t>(process_width, 7));
  };
  std::string out = fmt::format("{:>12} {:>6}  {:>11} {:>6}  {}{}\n", "ALLOCS", "%", "BYTES", "%",
                                process_cell("PROCESS"), "CALL SITE");
  for (size_t i = 0; i < shown; ++i) {
    const CallSite& site = sites[i];
    out += fmt::format("{:>12} {:>5.1f}%  {:>11} {:>5.1f}%  {}{} {}:{}{}\n", site.totals.count,
                       percent(site.totals.count, totals.count), format_bytes(site.totals.bytes),
                       percent(site.totals.bytes, totals.bytes), process_cell(site.process), site.function, site.file,
                       site.line, " [" + site.top_type + "]" + (site.top_kind.empty() ? "" : " " + site.top_kind));
  }
  return out;
}

}  // namespace gotrace
