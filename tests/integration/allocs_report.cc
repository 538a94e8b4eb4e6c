#include "tests/integration/allocs_report.h"

#include <sstream>
#include <vector>

namespace gotrace::testing {

std::string collapse_type_arguments(const std::string& name) {
  std::string out;
  int depth = 0;
  for (char c : name) {
    if (c == '[') {
      if (depth++ == 0) out += "[...";
    } else if (c == ']' && depth > 0) {
      if (--depth == 0) out += ']';
    } else if (depth == 0) {
      out += c;
    }
  }
  return out;
}

AllocsReport parse_allocs_report(const std::string& output) {
  AllocsReport report;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::string kind = line.substr(0, line.find(' '));
    std::istringstream rest(line.substr(kind.size() + 1));
    for (std::string field; std::getline(rest, field, '\t');) fields.push_back(field);
    if (!fields.empty()) fields[0] = collapse_type_arguments(fields[0]);
    if (kind == "expect" && fields.size() == 4) {
      auto& e = report.expected[fields[0]];
      e.count += std::stoll(fields[1]);
      e.size = std::stoll(fields[2]);
      e.tiny = fields[3] == "1";
    } else if (kind == "type" && !fields.empty()) {
      // gotrace labels memory allocated without a type "raw memory".
      report.types[fields[0]].insert(fields.size() > 1 && !fields[1].empty() ? fields[1] : "raw memory");
    } else if (kind == "collections" && fields.size() == 1) {
      report.collections = std::stoll(fields[0]);
    } else if (kind == "runtime" && fields.size() == 5) {
      // Before Go 1.21 the two instantiations of a generic site are two lines.
      auto& site = report.runtime_sites[{fields[0], std::stoll(fields[2])}];
      site.objects += std::stoll(fields[3]);
      site.bytes += std::stoll(fields[4]);
    } else if (kind == "inuse" && fields.size() == 3) {
      report.runtime_inuse[fields[0]] = {std::stoll(fields[1]), std::stoll(fields[2])};
    }
  }
  return report;
}

std::map<std::string, ObjectsAndBytes> sum_by_function(const std::map<SiteKey, ObjectsAndBytes>& by_site) {
  std::map<std::string, ObjectsAndBytes> out;
  for (const auto& [site, totals] : by_site) {
    out[site.first].objects += totals.objects;
    out[site.first].bytes += totals.bytes;
  }
  return out;
}

}  // namespace gotrace::testing
