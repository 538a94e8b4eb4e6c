#include "userspace/trace/call_sites.h"

#include "base/text_format.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace gotrace {

Frame leaf_frame(const std::vector<uint32_t>& locations, const std::vector<Location>& table) {
  if (locations.empty() || table[locations.front()].frames.empty()) return {kUnknownFunction, "", 0, 0, false};
  return table[locations.front()].frames.front();
}

std::vector<CallSite> call_sites(const Profile& profile) {
  std::map<std::tuple<std::string_view, std::string_view, int64_t>, size_t> index;
  std::vector<CallSite> sites;
  std::vector<std::map<std::string, uint64_t>> type_bytes;
  for (const Sample& sample : profile.samples) {
    Frame leaf = leaf_frame(sample.locations, profile.locations);
    auto [it, inserted] = index.emplace(std::tuple{leaf.function, leaf.file, leaf.line}, sites.size());
    if (inserted) {
      sites.push_back({std::string(leaf.function), std::string(leaf.file), leaf.line, {}, ""});
      type_bytes.emplace_back();
    }
    CallSite& site = sites[it->second];
    site.totals.count += sample.totals.count;
    site.totals.bytes += sample.totals.bytes;
    type_bytes[it->second][sample.type_name] += sample.totals.bytes;
  }
  for (size_t i = 0; i < sites.size(); ++i) {
    auto top = std::max_element(type_bytes[i].begin(), type_bytes[i].end(),
                                [](const auto& a, const auto& b) { return a.second < b.second; });
    if (top != type_bytes[i].end()) sites[i].top_type = top->first;
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
