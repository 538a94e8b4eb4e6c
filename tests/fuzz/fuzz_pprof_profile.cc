// libFuzzer target: a pprof profile given to `gotrace explain`, gzipped or
// not: a file from anywhere. Whatever it holds, reading it either fails with
// a message or gives a profile whose every reference holds, which summing
// it by site (what explain does next) then reads.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "userspace/explain/profile_reader.h"
#include "userspace/explain/profile_sites.h"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_pprof_profile: invariant violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gotrace;
  auto profile = parse_profile(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  if (!profile) {
    if (profile.error().message.empty()) fail("an error without a message");
    return 0;
  }
  for (const ProfileSample& sample : profile->samples) {
    if (sample.values.size() != profile->sample_types.size()) fail("a sample's values and the sample types differ");
    for (uint32_t location : sample.locations)
      if (location >= profile->locations.size()) fail("a sample names a location out of range");
  }
  for (const ProfileLocation& location : profile->locations)
    if (location.mapping && *location.mapping >= profile->mappings.size()) fail("a location's mapping out of range");
  if (auto index = choose_sample_index(*profile, "")) {
    ProfileSites sites = profile_sites(*profile, *index);
    for (const ProfileSite& site : sites.sites)
      for (const auto& [location, value] : site.locations)
        if (location >= profile->locations.size()) fail("a site's location out of range");
  }
  return 0;
}
