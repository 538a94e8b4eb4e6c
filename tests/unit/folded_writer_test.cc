// Folded stacks from a profile written by hand: the text flamegraph.pl,
// inferno and speedscope read.
#include "userspace/export/folded_writer.h"

#include <gtest/gtest.h>

namespace gotrace {
namespace {

// A location of one frame, or of several where calls were inlined there
// (innermost first).
Location at(std::vector<std::string_view> functions) {
  Location location;
  for (size_t i = 0; i < functions.size(); ++i)
    location.frames.push_back({functions[i], "/src/main.go", int64_t(10 + i), 0, i + 1 < functions.size()});
  return location;
}

struct SampleSpec {
  std::vector<uint32_t> locations;
  uint64_t count, bytes;
  std::string type = "main.Record";
};

SampleSpec sample(std::vector<uint32_t> locations, uint64_t count, uint64_t bytes, std::string type = "main.Record") {
  return {std::move(locations), count, bytes, std::move(type)};
}

void add_samples(Profile& profile, const std::vector<SampleSpec>& specs) {
  for (const SampleSpec& spec : specs) profile.add_sample(spec.locations, spec.type, {spec.count, spec.bytes});
}

TEST(FoldedWriter, RootFirstWithInlinedFramesExpanded) {
  Profile profile;
  profile.locations = {at({"main.mkPair", "main.siteInlined"}), at({"main.main"}), at({"runtime.main"})};
  add_samples(profile, {sample({0, 1, 2}, 5, 160)});
  EXPECT_EQ(encode_folded(profile), "runtime.main;main.main;main.siteInlined;main.mkPair 5\n");
  EXPECT_EQ(encode_folded(profile, {.bytes = true}), "runtime.main;main.main;main.siteInlined;main.mkPair 160\n");
}

TEST(FoldedWriter, StackCutShortHangsUnderATruncatedRoot) {
  Profile profile;
  profile.locations = {at({"main.leaf"}), at({"main.deep"})};
  add_samples(profile, {sample({0, 1}, 2, 96)});
  profile.samples[0].truncated = true;
  EXPECT_EQ(encode_folded(profile), "[truncated];main.deep;main.leaf 2\n");
}

TEST(FoldedWriter, SeparatorsInsideNamesAreReplaced) {
  // ';' would split a frame and ' ' end the stack.
  Profile profile;
  profile.locations = {at({"main.F[go.shape.struct { A int; B int }]"}), at({"main.main"})};
  add_samples(profile, {sample({0, 1}, 1, 16, "struct { A int; B int }")});
  EXPECT_EQ(encode_folded(profile), "main.main;main.F[go.shape.struct_{_A_int,_B_int_}] 1\n");
  EXPECT_EQ(encode_folded(profile, {.type_frame = true}),
            "main.main;main.F[go.shape.struct_{_A_int,_B_int_}];[struct_{_A_int,_B_int_}] 1\n");
}

TEST(FoldedWriter, TypeFrameEndsEachStack) {
  Profile profile;
  profile.locations = {at({"main.sitePlain"}), at({"main.main"})};
  add_samples(profile, {sample({0, 1}, 100, 4800), sample({0, 1}, 3, 3, kRawMemory)});
  EXPECT_EQ(encode_folded(profile, {.type_frame = true}),
            "main.main;main.sitePlain;[main.Record] 100\n"
            "main.main;main.sitePlain;[raw_memory] 3\n");
}

TEST(FoldedWriter, StacksThatFoldAlikeAreSummedAndSorted) {
  Profile profile;
  // Two locations that could not be resolved both fold to "[unknown]"; and
  // without the type frame, two types at one site are one line.
  profile.locations = {Location{0x1000, 0x1000, {}}, Location{0x2000, 0x2000, {}}, at({"main.b"}), at({"main.a"})};
  add_samples(profile, {sample({2}, 1, 8), sample({0}, 2, 16), sample({1}, 4, 32), sample({3}, 8, 64),
                        sample({2}, 16, 128, "main.Pair")});
  EXPECT_EQ(encode_folded(profile),
            "[unknown] 6\n"
            "main.a 8\n"
            "main.b 17\n");
  EXPECT_EQ(encode_folded(Profile{}), "");
}

TEST(FoldedWriter, MergedStackHangsUnderAMergedRoot) {
  Profile profile;
  profile.locations = {at({"main.leaf"}), at({"main.caller"})};
  add_samples(profile, {sample({0, 1}, 7, 112)});
  profile.samples[0].merged = true;
  EXPECT_EQ(encode_folded(profile), "[merged:--max-memory];main.caller;main.leaf 7\n");
}

TEST(FoldedWriter, LinesSortAsTheirTextWhereOneNameStartsAnother) {
  // "main.a;..." against "main.a.b...": ';' sorts after '.', and a line
  // that ends sorts before one that goes on.
  Profile profile;
  profile.locations = {at({"main.a"}), at({"main.a.b"}), at({"main.a+"}), at({"main.z"})};
  add_samples(profile, {sample({3, 0}, 1, 8), sample({1}, 2, 16), sample({0}, 4, 32), sample({2}, 8, 64),
                        sample({0, 3}, 16, 128)});
  EXPECT_EQ(encode_folded(profile),
            "main.a 4\n"
            "main.a+ 8\n"
            "main.a.b 2\n"
            "main.a;main.z 1\n"
            "main.z;main.a 16\n");
}

TEST(FoldedWriter, DifferentLocationsOfTheSameNamesFoldAlike) {
  // Two return addresses in main.mid, and main.leaf inlined into main.mid
  // at a third: three stacks with one text, sorted and summed as one line
  // whatever locations they share from the root.
  Profile profile;
  profile.locations = {at({"main.leaf"}), at({"main.mid"}), at({"main.mid"}), at({"main.root"}),
                       at({"main.leaf", "main.mid"})};
  add_samples(profile, {sample({0, 1, 3}, 1, 8), sample({1, 3}, 8, 64), sample({0, 2, 3}, 2, 16),
                        sample({4, 3}, 4, 32), sample({0, 1, 3}, 16, 128)});
  profile.samples[4].truncated = true;
  EXPECT_EQ(encode_folded(profile),
            "[truncated];main.root;main.mid;main.leaf 16\n"
            "main.root;main.mid 8\n"
            "main.root;main.mid;main.leaf 7\n");
}

// Samples of `specs` as of process `process` (index into profile.processes).
void add_process_samples(Profile& profile, uint32_t process, const std::vector<SampleSpec>& specs) {
  size_t first = profile.samples.size();
  add_samples(profile, specs);
  for (size_t i = first; i < profile.samples.size(); ++i) profile.samples[i].process = process;
}

// Two compilers and a linker; the compilers' locations are shared, as the
// combiner shares those of one binary at one address.
Profile build_processes() {
  Profile profile;
  profile.locations = {at({"main.a"}), at({"main.b"}), at({"main.root"}), at({"link.main"})};
  profile.processes = {{200, "compile", "", 0}, {100, "compile", "", 0}, {7, "link", "/user.slice", 1}};
  add_process_samples(profile, 0, {sample({0, 2}, 1, 8), sample({1, 2}, 2, 16)});
  add_process_samples(profile, 1, {sample({1, 2}, 4, 32), sample({0, 2}, 8, 64, "main.Pair")});
  add_process_samples(profile, 2, {sample({3}, 16, 128)});
  profile.samples.back().truncated = true;
  return profile;
}

TEST(FoldedWriter, ProcessFrameIsTheRootOfEachLine) {
  // Lines sort by their process first, even where the stacks after it
  // share their locations.
  EXPECT_EQ(encode_folded(build_processes(), {.process_frame = true}),
            "compile:100;main.root;main.a 8\n"
            "compile:100;main.root;main.b 4\n"
            "compile:200;main.root;main.a 1\n"
            "compile:200;main.root;main.b 2\n"
            "link:7;[truncated];link.main 16\n");
  EXPECT_EQ(encode_folded(build_processes(), {.type_frame = true, .process_frame = true}),
            "compile:100;main.root;main.a;[main.Pair] 8\n"
            "compile:100;main.root;main.b;[main.Record] 4\n"
            "compile:200;main.root;main.a;[main.Record] 1\n"
            "compile:200;main.root;main.b;[main.Record] 2\n"
            "link:7;[truncated];link.main;[main.Record] 16\n");
}

TEST(FoldedWriter, WithoutProcessFrameProcessesFoldingAlikeAreOneLine) {
  Profile profile = build_processes();
  // A location of its own with the same name, as another binary's would be.
  profile.locations.push_back(at({"main.a"}));
  add_process_samples(profile, 2, {sample({4, 2}, 32, 256)});
  EXPECT_EQ(encode_folded(profile),
            "[truncated];link.main 16\n"
            "main.root;main.a 41\n"
            "main.root;main.b 6\n");
}

}  // namespace
}  // namespace gotrace
