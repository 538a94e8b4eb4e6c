#include "tests/integration/traced_run.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace gotrace::testing {

bool nearly_equal(int64_t got, int64_t want) {
  int64_t tolerance = std::max<int64_t>(3, want / 1000);
  return got >= want - tolerance && got <= want + tolerance;
}

void expect_nothing_lost(const std::string& gotrace_stderr) {
  EXPECT_NE(gotrace_stderr.find("; 0 events lost"), std::string::npos) << gotrace_stderr;
  EXPECT_EQ(gotrace_stderr.find("cut at the root end"), std::string::npos) << gotrace_stderr;
}

namespace {

// Why a line of the folded stacks is misshapen, or nullptr.
const char* misshapen(const AllocsReport& report, const std::string& stack, const std::string& leaf) {
  std::string root = stack.substr(0, stack.find(';'));
  if (root.empty() || leaf.empty() || stack.find(";;") != std::string::npos) return "an empty frame";
  if (root == "[truncated]") return "cut short";
  if (root == "runtime.goexit") return "a runtime.goexit root, which Go's own profiles leave out";
  if (report.expected.count(leaf) && root != "runtime.main" && !root.starts_with("main."))
    return "a site's stack that does not start at runtime.main or a goroutine of the fixture";
  return nullptr;
}

}  // namespace

void expect_objects_at_every_site(const AllocsReport& report, PprofSites& got, bool collecting,
                                  const std::string& gotrace_stderr) {
  for (const auto& [function, expected] : report.expected) {
    SCOPED_TRACE(function);
    const ObjectsAndBytes& totals = got.by_function[function];
    if (!collecting) {
      EXPECT_EQ(totals.objects, expected.count);
      if (expected.tiny) {
        EXPECT_EQ(totals.bytes, expected.count * expected.size);
      }
    } else {
      EXPECT_PRED2(nearly_equal, totals.objects, expected.count);
      if (expected.tiny) {
        EXPECT_GE(totals.bytes, expected.count * expected.size);
      }
    }
  }
  if (::testing::Test::HasFailure()) {
    std::string sites;
    for (const auto& [function, totals] : got.by_function)
      if (totals.objects >= 1000) sites += fmt::format("  {} {} {}\n", function, totals.objects, totals.bytes);
    ADD_FAILURE() << "leaf functions in the profile:\n" << sites << "gotrace said:\n" << gotrace_stderr;
  }
}

RuntimeComparison expect_sites_match_the_runtime(const AllocsReport& report, PprofSites& got, bool collecting) {
  std::set<std::string> compared, untiny;
  for (const auto& [function, expected] : report.expected)
    if (!expected.tiny) untiny.insert(function);
  RuntimeComparison comparison;
  for (const auto& [site, runtime] : report.runtime_sites) {
    if (!untiny.count(site.first)) continue;
    SCOPED_TRACE(fmt::format("{} line {}", site.first, site.second));
    compared.insert(site.first);
    ++comparison.sites;
    const ObjectsAndBytes& totals = got.by_site[site];
    comparison.largest_difference =
        std::max(comparison.largest_difference, std::abs(totals.objects - runtime.objects));
    if (!collecting) {
      EXPECT_EQ(totals, runtime);
    } else {
      EXPECT_PRED2(nearly_equal, totals.objects, runtime.objects);
      if (site.first != "main.siteConcat") {
        EXPECT_PRED2(nearly_equal, totals.bytes, runtime.bytes);
      }
    }
  }
  EXPECT_EQ(compared, untiny) << "sites the runtime's profile was compared at";
  return comparison;
}

void expect_types_at_every_site(const AllocsReport& report, PprofSites& got) {
  EXPECT_EQ(report.types.size(), report.expected.size()) << "the fixture names a type for every site";
  for (const auto& [function, names] : report.types) {
    SCOPED_TRACE(function);
    std::set<std::string> got_types;
    const auto& site_types = got.types_by_function[function];
    int64_t site_objects = 0;
    for (const auto& [type, objects] : site_types) site_objects += objects;
    for (const auto& [type, objects] : site_types)
      if (objects * 10 >= site_objects) got_types.insert(type);  // not the runtime's own odd allocation
    if (names.size() == 1 && names.begin()->find('[') == std::string::npos) {
      EXPECT_EQ(got_types, names);
    } else {
      std::set<std::string> generic_names;
      for (const std::string& name : names) generic_names.insert(name.substr(0, name.find('[')));
      std::set<std::string> got_generic;
      for (const std::string& name : got_types) got_generic.insert(name.substr(0, name.find('[')));
      EXPECT_EQ(got_generic, generic_names);
      EXPECT_EQ(got_types.size(), names.size());
    }
  }
}

void expect_folded_stacks(const AllocsReport& report, const std::string& folded_text, bool collecting) {
  std::map<std::string, int64_t> folded_by_leaf;
  std::vector<std::string> misshapen_lines;  // "why: line"
  std::istringstream folded(folded_text);
  for (std::string line; std::getline(folded, line);) {
    size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    std::string stack = line.substr(0, space);
    std::string leaf = collapse_type_arguments(stack.substr(stack.rfind(';') + 1));
    if (const char* why = misshapen(report, stack, leaf))
      misshapen_lines.push_back(fmt::format("{}: {}", why, line.substr(0, 300)));
    folded_by_leaf[leaf] += std::stoll(line.substr(space + 1));
  }
  if (!misshapen_lines.empty()) {
    std::string text;
    for (size_t i = 0; i < misshapen_lines.size() && i < 10; ++i) text += "  " + misshapen_lines[i] + "\n";
    ADD_FAILURE() << misshapen_lines.size() << " folded stacks are misshapen, e.g.:\n" << text;
  }
  for (const auto& [function, expected] : report.expected) {
    if (!collecting) {
      EXPECT_EQ(folded_by_leaf[function], expected.count) << function;
    } else {
      EXPECT_PRED2(nearly_equal, folded_by_leaf[function], expected.count) << function;
    }
  }
}

std::set<std::string> expect_sampled_sites_equal_the_runtime(const AllocsReport& report, PprofSites& got) {
  std::set<std::string> compared;
  for (const auto& [site, runtime] : report.runtime_sites) {
    if (!report.expected.count(site.first)) continue;
    SCOPED_TRACE(fmt::format("{} line {}", site.first, site.second));
    EXPECT_EQ(got.by_site[site], runtime);
    compared.insert(site.first);
  }
  EXPECT_EQ(compared.size(), report.expected.size()) << "sites compared with the runtime's profile";
  return compared;
}

void expect_in_use_is_what_keep_kept(const AllocsReport& report, PprofSites& sites) {
  auto kept = report.expected.find("main.siteKept"), dropped = report.expected.find("main.siteDropped");
  ASSERT_NE(kept, report.expected.end()) << "not the report of allocs keep";
  ASSERT_NE(dropped, report.expected.end()) << "not the report of allocs keep";
  int64_t kept_bytes = kept->second.count * kept->second.size;
  EXPECT_EQ(sites.sample_types, "alloc_objects/count alloc_space/bytes[dflt] inuse_objects/count inuse_space/bytes "
                                "peak_inuse_objects/count peak_inuse_space/bytes");
  auto inuse = sum_by_function(sites.inuse_by_site), allocated = sum_by_function(sites.by_site);
  EXPECT_EQ(inuse["main.siteKept"], (ObjectsAndBytes{kept->second.count, kept_bytes}));
  EXPECT_EQ(inuse["main.siteDropped"], (ObjectsAndBytes{0, 0}));
  // What is kept was in use from the first cycle that counted anything, so
  // at the peak too; the pairs were freed before they counted.
  auto peak = sum_by_function(sites.peak_inuse_by_site);
  EXPECT_EQ(peak["main.siteKept"], (ObjectsAndBytes{kept->second.count, kept_bytes}));
  EXPECT_EQ(peak["main.siteDropped"], (ObjectsAndBytes{0, 0}));
  EXPECT_EQ(allocated["main.siteKept"], (ObjectsAndBytes{kept->second.count, kept_bytes}));
  EXPECT_EQ(allocated["main.siteDropped"],
            (ObjectsAndBytes{dropped->second.count, dropped->second.count * dropped->second.size}));
  auto runtime = report.runtime_inuse;
  EXPECT_EQ(inuse["main.siteKept"], runtime["main.siteKept"]);
  EXPECT_EQ(inuse["main.siteDropped"], runtime["main.siteDropped"]);
}

}  // namespace gotrace::testing
