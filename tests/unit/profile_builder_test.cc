// From raw stacks to a profile, on a synthetic Go executable (the fuzz
// seeds' builder: runtime.mallocgc, main.helper, and main.main with
// main.middle and main.inner inlined), so that no Go toolchain is needed:
// the runtime's leaf frames trimmed, stacks that trimming makes equal
// merged, types named, an unresolved address shown as [unknown], and call
// sites summed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "tests/unit/synthetic_binary_test.h"
#include "userspace/process/target_process.h"
#include "userspace/profile/call_sites.h"
#include "userspace/profile/profile_builder.h"

namespace gotrace {
namespace {

namespace synthetic = gotrace::fuzz;

class ProfileBuilder : public SyntheticBinaryTest {
 protected:
  // The innermost frame the symbolizer gives for a return address.
  std::string leaf_function(uint64_t pc) const {
    std::vector<Frame> frames;
    binary_->symbolize(pc, /*return_address=*/true, &frames);
    return frames.empty() ? "" : std::string(frames.front().function);
  }
  Profile build(const std::vector<RawStack>& stacks) const {
    AllocationTotals totals;
    for (const RawStack& stack : stacks) totals = {totals.count + uint64_t(stack.totals.count),
                                                   totals.bytes + uint64_t(stack.totals.bytes)};
    return build_profile(stacks, totals, *binary_, translator_for(*binary_, 0, path_), ProcessLabel{4242, "server", "", 0},
                         text());
  }
  Mapping text() const {
    return {path_, "go-build-id", synthetic::kText, synthetic::kText + synthetic::kTextSize, synthetic::kText};
  }
};

TEST_F(ProfileBuilder, AProcesssProfileHasItsOneProcessAndOneMapping) {
  Profile profile = build({{0, {in("main.helper", 0x40), in("main.main", 0xe0)}, false, {2, 64}},
                           {0, {in("main.main", 0xe0)}, false, {1, 8}}});
  ASSERT_EQ(profile.processes.size(), 1u);
  EXPECT_EQ(profile.processes[0].pid, 4242);
  EXPECT_EQ(profile.processes[0].name, "server");
  EXPECT_EQ(profile.processes[0].mapping, 0u);
  ASSERT_EQ(profile.mappings.size(), 1u);
  EXPECT_EQ(profile.mappings[0], text());
  ASSERT_EQ(profile.samples.size(), 2u);
  for (const Sample& sample : profile.samples) EXPECT_EQ(sample.process, 0u);
  for (const Location& location : profile.locations) EXPECT_EQ(location.mapping, 0u);
}

TEST_F(ProfileBuilder, StacksThatDifferOnlyInTheRuntimesFramesAreOneSample) {
  ASSERT_EQ(leaf_function(in("main.helper", 0x40)), "main.helper");
  RawStack a{0, {in("runtime.mallocgc", 0x20), in("main.helper", 0x40), in("main.main", 0xe0)}, false, {2, 64}};
  RawStack b{0, {in("runtime.mallocgc", 0x60), in("main.helper", 0x40), in("main.main", 0xe0)}, false, {3, 96}};
  Profile profile = build({a, b});
  ASSERT_EQ(profile.samples.size(), 1u);
  const Sample& sample = profile.samples.front();
  EXPECT_EQ(sample.totals.count, 5u);
  EXPECT_EQ(sample.totals.bytes, 160u);
  EXPECT_EQ(leaf_frame(profile.locations_of(sample), profile.locations).function, "main.helper");
  EXPECT_EQ(profile.type_name_of(sample), kRawMemory);
  EXPECT_EQ(profile.totals.count, 5u);
}

TEST_F(ProfileBuilder, TypesAndTruncationKeepSamplesApart) {
  std::vector<uint64_t> pcs{in("main.helper", 0x40), in("main.main", 0xe0)};
  Profile profile = build({{synthetic::kTypeSlice, pcs, false, {1, 8}},
                           {synthetic::kTypeStar, pcs, false, {1, 16}},
                           {synthetic::kTypeSlice, pcs, true, {1, 8}}});
  ASSERT_EQ(profile.samples.size(), 3u);
  auto name = binary_->type_name(synthetic::kTypeSlice);
  ASSERT_TRUE(name);
  EXPECT_EQ(profile.type_name_of(profile.samples[0]), *name);
  EXPECT_NE(profile.type_name_of(profile.samples[1]), profile.type_name_of(profile.samples[0]));
  EXPECT_FALSE(profile.samples[0].truncated);
  EXPECT_TRUE(profile.samples[2].truncated);
}

TEST_F(ProfileBuilder, AnUnresolvedAddressIsOneUnknownFrame) {
  uint64_t outside = synthetic::kText + synthetic::kTextSize + 0x100000;
  Profile profile = build({{0, {outside, in("main.main", 0xe0)}, false, {1, 32}}});
  ASSERT_EQ(profile.samples.size(), 1u);
  const Sample& sample = profile.samples.front();
  ASSERT_EQ(sample.depth, 2u);
  EXPECT_TRUE(profile.locations[profile.locations_of(sample)[0]].frames.empty());
  std::span<const Frame> shown = shown_frames(profile.locations[profile.locations_of(sample)[0]]);
  ASSERT_EQ(shown.size(), 1u);
  EXPECT_EQ(shown.front().function, "[unknown]");
  EXPECT_EQ(leaf_frame(profile.locations_of(sample), profile.locations).function, "[unknown]");
}

TEST_F(ProfileBuilder, CallSitesSumByLeafWithTheTopTypeByBytes) {
  std::vector<uint64_t> helper{in("main.helper", 0x40), in("main.main", 0xe0)};
  std::vector<uint64_t> via_other_caller{in("main.helper", 0x40), in("main.main", 0x20)};
  Profile profile = build({{synthetic::kTypeSlice, helper, false, {4, 32}},
                           {synthetic::kTypeStar, via_other_caller, false, {1, 64}},
                           {0, {in("main.main", 0xe0)}, false, {1, 8}}});
  std::vector<CallSite> sites = call_sites(profile);
  ASSERT_EQ(sites.size(), 2u);
  EXPECT_EQ(sites[0].function, "main.helper");  // the most bytes first
  EXPECT_EQ(sites[0].totals.count, 5u);
  EXPECT_EQ(sites[0].totals.bytes, 96u);
  EXPECT_EQ(sites[0].top_type, *binary_->type_name(synthetic::kTypeStar));
  EXPECT_EQ(sites[1].totals.count, 1u);
}

TEST(SiteSum, TiesGoToTheFirstTypeByName) {
  SiteSum sum;
  sum.add("main.B", "newobject", {1, 16});
  sum.add("main.A", "newobject", {1, 16});
  EXPECT_EQ(sum.top_type(), "main.A");
  sum.add("main.B", "newobject", {1, 1});
  EXPECT_EQ(sum.top_type(), "main.B");
  EXPECT_DOUBLE_EQ(sum.totals().count, 3);
}

TEST(SiteSum, TheTopKindIsTheOneWithTheMostBytes) {
  SiteSum sum;
  sum.add("int", "growslice", {10, 800});
  sum.add("int", "makeslice", {1, 1000});
  EXPECT_EQ(sum.top_kind(), "makeslice");
  sum.add("int", "growslice", {1, 300});
  EXPECT_EQ(sum.top_kind(), "growslice");
}

}  // namespace
}  // namespace gotrace
