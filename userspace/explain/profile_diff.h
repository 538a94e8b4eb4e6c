// Two profiles of the same program compared site by site, for
// `gotrace explain --diff BEFORE AFTER`: the check that a fix worked (a site
// that went from 30,000 allocations to none) and that it moved nothing
// elsewhere.
//
// A site is its function and line, and its file by base name, so that
// builds of the same source in two directories compare. A fix that moves
// lines shows as a site gone and a site new.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "userspace/explain/profile_sites.h"

namespace gotrace {

struct SiteFigures {
  int64_t value = 0;
  int64_t objects = 0;
  int64_t bytes = 0;
};

struct SiteChange {
  std::string function;
  std::string file;  // the after profile's, or the before one's for a site gone
  int64_t line = 0;
  std::string kind;  // the top allocation kind, after (or before, for a site gone); "" when unknown
  SiteFigures before, after;
  bool gone() const { return after.value == 0 && before.value != 0; }
  bool added() const { return before.value == 0 && after.value != 0; }
};

struct ProfileDiff {
  std::vector<SiteChange> sites;  // by the size of their change in value, the largest first; unchanged sites left out
  SiteFigures before, after;      // every site of each
  size_t unchanged = 0;           // sites with the same figures in both
};

ProfileDiff diff_profiles(const ProfileSites& before, const ProfileSites& after);

}  // namespace gotrace
