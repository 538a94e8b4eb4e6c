// explain's reading of a profile: what gotrace's own writer wrote, read
// back, summed by site and compared with another; and profiles that lie
// about themselves refused with a line that says how.
#include <gtest/gtest.h>
#include <zlib.h>

#include "export/profile.pb.h"
#include "userspace/explain/allocation_hints.h"
#include "userspace/explain/explanation.h"
#include "userspace/explain/profile_diff.h"
#include "userspace/explain/profile_reader.h"
#include "userspace/explain/profile_sites.h"
#include "userspace/export/pprof_writer.h"

namespace gotrace {
namespace {

// main.siteAppend grows a slice at line 20, inlined into main.run at 40,
// from two call instructions; main.siteNew makes objects at line 30.
Profile traced(uint64_t append_objects) {
  Profile profile;
  profile.locations = {
      {0x401235, 0x401235,
       {{"main.siteAppend", "/src/app/main.go", 20, 18, true}, {"main.run", "/src/app/main.go", 40, 38, false}}},
      {0x401801, 0x401801, {{"main.main", "/src/app/main.go", 90, 80, false}}},
      {0x401301, 0x401301, {{"main.siteNew", "/src/app/main.go", 30, 28, false}}},
      {0x401245, 0x401245,
       {{"main.siteAppend", "/src/app/main.go", 20, 18, true}, {"main.run", "/src/app/main.go", 41, 38, false}}},
  };
  profile.kind_names = {"growslice", "newobject"};
  if (append_objects > 0) {
    profile.add_sample(std::vector<uint32_t>{0, 1}, "int", {append_objects, append_objects * 1000}).kind = 0;
    profile.add_sample(std::vector<uint32_t>{3, 1}, "int", {1, 500}).kind = 0;
  }
  profile.add_sample(std::vector<uint32_t>{2, 1}, "main.T", {100, 4800}).kind = 1;
  profile.mappings = {{"/srv/bin/app", "abc123", 0x401000, 0x500000, 0x1000}};
  profile.processes = {{4242, "app", "", 0}};
  profile.totals = {append_objects + 101, append_objects * 1000 + 5300};
  return profile;
}

ReadProfile read_back(const Profile& profile) {
  auto bytes = encode_pprof(profile, PprofMetadata{});
  EXPECT_TRUE(bytes) << bytes.error().message;
  auto read = parse_profile(*bytes, "traced.pb.gz");
  EXPECT_TRUE(read) << read.error().message;
  return read ? *read : ReadProfile{};
}

TEST(ExplainProfile, ReadsBackWhatTheWriterWrote) {
  ReadProfile profile = read_back(traced(30));
  EXPECT_EQ(profile.sample_types, (std::vector<std::string>{"alloc_objects", "alloc_space"}));
  EXPECT_EQ(profile.default_sample_type, "alloc_space");
  ASSERT_EQ(profile.samples.size(), 3u);
  EXPECT_EQ(profile.samples[0].label("alloc"), "growslice");
  EXPECT_EQ(profile.samples[0].label("type"), "int");
  EXPECT_EQ(profile.samples[0].label("pid"), "4242");
  ASSERT_EQ(profile.mappings.size(), 1u);
  EXPECT_EQ(profile.mappings[0].build_id, "abc123");
  const ProfileLocation& leaf = profile.locations[profile.samples[0].locations.front()];
  EXPECT_EQ(leaf.address, 0x401234u);  // the call instruction: the return address - 1, as pprof has it
  ASSERT_EQ(leaf.frames.size(), 2u);
  EXPECT_EQ(leaf.frames[0].function, "main.siteAppend");
  EXPECT_EQ(leaf.frames[1].line, 40);
}

TEST(ExplainProfile, SitesAreLeafLinesRankedByTheSampleIndex) {
  ReadProfile profile = read_back(traced(30));
  auto by_space = choose_sample_index(profile, "");
  ASSERT_TRUE(by_space) << by_space.error().message;
  EXPECT_EQ(by_space->name, "alloc_space");
  ProfileSites sites = profile_sites(profile, *by_space);
  ASSERT_EQ(sites.sites.size(), 2u);
  const ProfileSite& append = sites.sites[0];
  EXPECT_EQ(append.function, "main.siteAppend");
  EXPECT_EQ(append.line, 20);
  EXPECT_EQ(append.objects, 31);
  EXPECT_EQ(append.bytes, 30500);
  ASSERT_EQ(append.inlined_into.size(), 1u);
  EXPECT_EQ(append.inlined_into[0].function, "main.run");
  EXPECT_EQ(append.kinds, (NamedFigures{{"growslice", 30500}}));
  ASSERT_EQ(append.locations.size(), 2u);  // two call instructions, the heavier first
  EXPECT_EQ(profile.locations[append.locations[0].first].address, 0x401234u);
  EXPECT_EQ(sites.total_bytes, 35300);

  auto by_objects = choose_sample_index(profile, "alloc_objects");
  ASSERT_TRUE(by_objects);
  EXPECT_EQ(profile_sites(profile, *by_objects).sites[0].function, "main.siteNew");
  auto by_number = choose_sample_index(profile, "0");
  ASSERT_TRUE(by_number);
  EXPECT_EQ(by_number->name, "alloc_objects");
  auto unknown = choose_sample_index(profile, "inuse_space");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message,
            "--sample-index 'inuse_space': the profile has no such sample type (it has alloc_objects, alloc_space)");
}

TEST(ExplainProfile, TheDiffShowsAFixedSiteGoneAndLeavesTheSameOnesOut) {
  ReadProfile before = read_back(traced(30)), after = read_back(traced(0));
  auto index = choose_sample_index(before, "");
  ASSERT_TRUE(index);
  ProfileDiff diff = diff_profiles(profile_sites(before, *index), profile_sites(after, *index));
  ASSERT_EQ(diff.sites.size(), 1u);
  EXPECT_EQ(diff.unchanged, 1u);
  const SiteChange& change = diff.sites[0];
  EXPECT_EQ(change.function, "main.siteAppend");
  EXPECT_TRUE(change.gone());
  EXPECT_EQ(change.before.objects, 31);
  EXPECT_EQ(change.after.objects, 0);
  EXPECT_EQ(change.kind, "growslice");
  EXPECT_EQ(diff.before.bytes - diff.after.bytes, 30500);
}

// A profile encoded by hand, to break it.
std::string encode(const pprof::Profile& profile) {
  std::string bytes;
  profile.SerializeToString(&bytes);
  return bytes;
}

pprof::Profile minimal() {
  pprof::Profile profile;
  for (const char* s : {"", "alloc_space", "bytes", "main.f", "main.go"}) profile.add_string_table(s);
  auto* type = profile.add_sample_type();
  type->set_type(1);
  type->set_unit(2);
  auto* function = profile.add_function();
  function->set_id(1);
  function->set_name(3);
  function->set_filename(4);
  auto* location = profile.add_location();
  location->set_id(1);
  location->add_line()->set_function_id(1);
  auto* sample = profile.add_sample();
  sample->add_location_id(1);
  sample->add_value(64);
  return profile;
}

TEST(ExplainProfile, ReadsAPlainProfileAndRefusesBrokenReferences) {
  EXPECT_TRUE(parse_profile(encode(minimal()), "p"));
  auto broken = [](auto&& damage) {
    pprof::Profile profile = minimal();
    damage(profile);
    auto read = parse_profile(encode(profile), "p");
    return read ? std::string("read") : read.error().message;
  };
  EXPECT_EQ(broken([](pprof::Profile& p) { p.mutable_sample(0)->set_location_id(0, 9); }),
            "'p': corrupt profile: a sample names location 9, which it has not");
  EXPECT_EQ(broken([](pprof::Profile& p) { p.mutable_location(0)->mutable_line(0)->set_function_id(7); }),
            "'p': corrupt profile: location 1 names function 7, which it has not");
  EXPECT_EQ(broken([](pprof::Profile& p) { p.mutable_function(0)->set_name(99); }),
            "'p': corrupt profile: a function's name names string 99 of 5");
  EXPECT_EQ(broken([](pprof::Profile& p) { p.mutable_sample(0)->add_value(1); }),
            "'p': corrupt profile: a sample has 2 values for 1 sample types");
  EXPECT_EQ(broken([](pprof::Profile& p) { p.mutable_location(0)->set_mapping_id(3); }),
            "'p': corrupt profile: location 1 names mapping 3, which it has not");
  EXPECT_EQ(broken([](pprof::Profile& p) { p.add_location()->set_id(1); }),
            "'p': corrupt profile: location id 1 is 0 or taken twice");
  EXPECT_EQ(broken([](pprof::Profile& p) { p.set_string_table(0, "x"); }),
            "'p': corrupt profile: its string table does not start with \"\"");
}

TEST(ExplainProfile, RefusesWhatIsNotAProfile) {
  auto error = [](std::string_view bytes) {
    auto read = parse_profile(bytes, "p");
    return read ? std::string("read") : read.error().message;
  };
  EXPECT_EQ(error("\x1f\x8b not gzip at all"), "'p': not a gzipped profile: unknown compression method");
  EXPECT_EQ(error(std::string("\x08\x96\x01\xff\xff", 5)), "'p': not a pprof profile (profile.proto does not parse)");
  // A gzip stream cut in the middle.
  auto bytes = encode_pprof(traced(30), PprofMetadata{});
  ASSERT_TRUE(bytes);
  EXPECT_EQ(error(std::string_view(*bytes).substr(0, bytes->size() / 2)), "'p': the gzipped profile is cut short");
}

TEST(AllocationHints, NameTheWellKnownPatternsAsHints) {
  std::vector<std::string> nothing, moved{"moved to heap: v"};
  EXPECT_NE(allocation_hint({"growslice", 23, 1000, nothing}).find("make([]T, 0, n)"), std::string::npos);
  EXPECT_NE(allocation_hint({"concatstring3", 5, 50, nothing}).find("strings.Builder"), std::string::npos);
  EXPECT_NE(allocation_hint({"convT64", 5, 40, nothing}).find("interface"), std::string::npos);
  EXPECT_NE(allocation_hint({"closure", 10, 1280, nothing}).find("128 bytes each"), std::string::npos);
  EXPECT_NE(allocation_hint({"newobject", 10, 80, moved}).find("address outlives"), std::string::npos);
  EXPECT_EQ(allocation_hint({"newobject", 10, 80, nothing}), "");
  EXPECT_EQ(allocation_hint({"makechan", 10, 800, nothing}), "");
}

}  // namespace
}  // namespace gotrace

namespace gotrace {
namespace {

std::vector<std::string> keys_of(const nlohmann::ordered_json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  return keys;
}

// The JSON forms are documented in README.md and only ever grow: these are
// their keys, in order.
TEST(ExplainJson, HasTheDocumentedKeys) {
  ReadProfile profile = read_back(traced(30));
  auto index = choose_sample_index(profile, "");
  ASSERT_TRUE(index);
  ProfileSites sites = profile_sites(profile, *index);
  Explanation e;
  e.index = *index;
  ExplainedSite site{sites.sites[0], {}, ExplainedEscape{"found", "", "/src/app/main.go", {{13, "x escapes to heap", {"flow: {heap} ← x:"}}}}, "a hint"};
  site.calls.push_back({0x401235, 30500, "runtime.growslice", "SI", "int", {{0x401230, "main.go", 20, "CALL runtime.growslice(SB)", true}}, ""});
  e.sites.push_back(site);
  nlohmann::ordered_json json = explanation_json(e);
  EXPECT_EQ(keys_of(json), (std::vector<std::string>{"profile", "sample_index", "total", "site_count", "go_version",
                                                     "source", "notes", "sites"}));
  const auto& s = json["sites"][0];
  EXPECT_EQ(keys_of(s), (std::vector<std::string>{"rank", "function", "file", "line", "inlined_into", "value",
                                                  "objects", "bytes", "types", "kinds", "calls", "escape", "hint"}));
  EXPECT_EQ(keys_of(s["calls"][0]), (std::vector<std::string>{"return_address", "value", "callee", "type",
                                                              "type_register", "instructions"}));
  EXPECT_EQ(keys_of(s["calls"][0]["instructions"][0]),
            (std::vector<std::string>{"address", "file", "line", "text", "call"}));
  EXPECT_EQ(keys_of(s["escape"]), (std::vector<std::string>{"status", "reason", "source_file", "diagnostics"}));
  EXPECT_EQ(keys_of(s["escape"]["diagnostics"][0]), (std::vector<std::string>{"column", "message", "flow"}));
  EXPECT_EQ(keys_of(s["kinds"][0]), (std::vector<std::string>{"kind", "value", "description"}));
  EXPECT_EQ(s["calls"][0]["return_address"], "0x401235");

  DiffReport report{"a.pb.gz", "b.pb.gz", *index, diff_profiles(sites, profile_sites(read_back(traced(0)), *index)), 10};
  nlohmann::ordered_json diff = diff_json(report);
  EXPECT_EQ(keys_of(diff), (std::vector<std::string>{"before", "after", "sample_index", "total", "unchanged", "sites"}));
  EXPECT_EQ(keys_of(diff["sites"][0]), (std::vector<std::string>{"function", "file", "line", "kind", "before", "after",
                                                                  "change", "status"}));
  EXPECT_EQ(diff["sites"][0]["status"], "gone");
}

}  // namespace
}  // namespace gotrace
