// The table of top call sites printed at the end of a trace without output
// files: a site per leaf frame, and in a profile of several processes a site
// per process and leaf frame, with a PROCESS column.
#include "userspace/profile/call_sites.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gotrace {
namespace {

Location at(std::string_view function, int64_t line) {
  return {0x401000 + uint64_t(line), 0x401000 + uint64_t(line), {{function, "/src/main.go", line, 1, false}}};
}

// main.parse allocates in two processes of one program, main.emit in one.
Profile two_processes() {
  Profile profile;
  profile.locations = {at("main.parse", 10), at("main.emit", 20), at("main.main", 30)};
  profile.processes = {{100, "compile", "", 0}, {200, "compile", "", 0}};
  profile.add_sample(std::vector<uint32_t>{0, 2}, "main.Node", {3, 300});
  profile.add_sample(std::vector<uint32_t>{1, 2}, kRawMemory, {1, 1000});
  profile.add_sample(std::vector<uint32_t>{0, 2}, "main.Node", {5, 500}).process = 1;
  profile.totals = {9, 1800};
  return profile;
}

TEST(CallSites, SitesOfSeveralProcessesArePerProcess) {
  std::vector<CallSite> sites = call_sites(two_processes());
  ASSERT_EQ(sites.size(), 3u);
  EXPECT_EQ(sites[0].process + " " + sites[0].function, "compile:100 main.emit");
  EXPECT_EQ(sites[1].process + " " + sites[1].function, "compile:200 main.parse");
  EXPECT_EQ(sites[1].totals.count, 5u);
  EXPECT_EQ(sites[2].process + " " + sites[2].function, "compile:100 main.parse");
  EXPECT_EQ(sites[2].totals.count, 3u);
}

TEST(CallSites, TableHasAProcessColumnForSeveralProcesses) {
  Profile profile = two_processes();
  EXPECT_EQ(format_call_site_table(call_sites(profile), profile.totals, 2),
            "      ALLOCS      %        BYTES      %  PROCESS      CALL SITE\n"
            "           1  11.1%       1000 B  55.6%  compile:100  main.emit /src/main.go:20 [raw memory]\n"
            "           5  55.6%        500 B  27.8%  compile:200  main.parse /src/main.go:10 [main.Node]\n");
}

TEST(CallSites, TableOfOneProcessIsAsBefore) {
  Profile profile = two_processes();
  profile.processes.pop_back();
  profile.samples[2].process = 0;
  std::vector<CallSite> sites = call_sites(profile);
  ASSERT_EQ(sites.size(), 2u);
  EXPECT_EQ(sites[0].process, "");
  EXPECT_EQ(sites[0].totals.count, 1u);
  EXPECT_EQ(sites[1].totals.count, 8u) << "the one process's site, summed";
  EXPECT_EQ(format_call_site_table(sites, profile.totals, 20),
            "      ALLOCS      %        BYTES      %  CALL SITE\n"
            "           1  11.1%       1000 B  55.6%  main.emit /src/main.go:20 [raw memory]\n"
            "           8  88.9%        800 B  44.4%  main.parse /src/main.go:10 [main.Node]\n");
}

}  // namespace
}  // namespace gotrace
