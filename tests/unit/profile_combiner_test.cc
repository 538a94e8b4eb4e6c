// Profiles of single processes, made by hand as build_profile makes them
// (one process, one mapping), combined into one: indexes remapped, types
// joined by name, mappings and locations shared where the binary and its
// address are the same, and figures summed.
#include "userspace/profile/profile_combiner.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gotrace {
namespace {

const Mapping kCompile{"/usr/lib/go/pkg/tool/linux_amd64/compile", "compile-id", 0x401000, 0x900000, 0x1000};
const Mapping kServer{"/srv/server", "server-id", 0x401000, 0x500000, 0x1000};

Location at(uint64_t address, std::vector<std::string_view> functions) {
  Location location{address, address, {}};
  for (std::string_view function : functions) location.frames.push_back({function, "/src/main.go", 10, 1, false});
  return location;
}

// The profile of one process, of the binary `mapping`, with `locations`.
Profile of_process(int pid, std::string name, Mapping mapping, std::vector<Location> locations) {
  Profile profile;
  profile.locations = std::move(locations);
  profile.mappings = {std::move(mapping)};
  profile.processes = {{pid, std::move(name), "", 0}};
  return profile;
}

// "process:function;function type count" for each sample, leaf first.
std::vector<std::string> described(const Profile& profile) {
  std::vector<std::string> out;
  for (const Sample& sample : profile.samples) {
    std::string line = process_name_and_pid(profile.processes.at(sample.process)) + ":";
    for (uint32_t location : profile.locations_of(sample))
      line += std::string(leaf_frame(std::vector<uint32_t>{location}, profile.locations).function) + ";";
    out.push_back(line + " " + profile.type_name_of(sample) + " " + std::to_string(sample.totals.count));
  }
  return out;
}

TEST(ProfileCombiner, ProcessesOfOneBinaryAtOneAddressShareItsMappingAndLocations) {
  Profile first = of_process(100, "compile", kCompile, {at(0x401100, {"ssa.Compile"}), at(0x401200, {"main.main"})});
  first.add_sample(std::vector<uint32_t>{0, 1}, "ssa.Value", {5, 400});
  first.totals = {5, 400};
  Profile second = of_process(200, "compile", kCompile, {at(0x401300, {"types.New"}), at(0x401100, {"ssa.Compile"}),
                                                          at(0x401200, {"main.main"})});
  second.add_sample(std::vector<uint32_t>{0, 2}, "types.Type", {2, 96});
  second.add_sample(std::vector<uint32_t>{1, 2}, "ssa.Value", {3, 240});
  second.totals = {5, 336};

  ProfileCombiner combiner;
  combiner.add(std::move(first));
  combiner.add(std::move(second));
  Profile combined = std::move(combiner).take();

  ASSERT_EQ(combined.mappings.size(), 1u);
  EXPECT_EQ(combined.mappings[0], kCompile);
  ASSERT_EQ(combined.processes.size(), 2u);
  EXPECT_EQ(process_name_and_pid(combined.processes[0]), "compile:100");
  EXPECT_EQ(process_name_and_pid(combined.processes[1]), "compile:200");
  EXPECT_EQ(combined.processes[1].mapping, 0u);
  // ssa.Compile and main.main are held once; types.New is new.
  EXPECT_EQ(combined.locations.size(), 3u);
  EXPECT_EQ(combined.type_names, (std::vector<std::string>{"ssa.Value", "types.Type"}));
  EXPECT_EQ(described(combined), (std::vector<std::string>{"compile:100:ssa.Compile;main.main; ssa.Value 5",
                                                           "compile:200:types.New;main.main; types.Type 2",
                                                           "compile:200:ssa.Compile;main.main; ssa.Value 3"}));
  auto locations = [&](size_t sample) {
    std::span<const uint32_t> indexes = combined.locations_of(combined.samples[sample]);
    return std::vector<uint32_t>(indexes.begin(), indexes.end());
  };
  EXPECT_EQ(locations(0), locations(2)) << "the same locations, as indexes of the same";
  EXPECT_EQ(combined.totals.count, 10u);
  EXPECT_EQ(combined.totals.bytes, 736u);
}

TEST(ProfileCombiner, APieBinaryAtTwoLoadBiasesIsTwoMappings) {
  Mapping low = kServer, high = kServer;
  high.start += 0x7f0000000000;
  high.limit += 0x7f0000000000;
  Profile first = of_process(1, "server", low, {at(0x401100, {"main.handle"})});
  first.add_sample(std::vector<uint32_t>{0}, "main.Request", {1, 64});
  Profile second = of_process(2, "server", high, {at(0x7f0000401100, {"main.handle"})});
  second.add_sample(std::vector<uint32_t>{0}, "main.Request", {1, 64});
  // A third process at the first one's address shares its mapping again.
  Profile third = of_process(3, "server", low, {at(0x401100, {"main.handle"})});
  third.add_sample(std::vector<uint32_t>{0}, "main.Request", {1, 64});

  ProfileCombiner combiner;
  for (Profile* profile : {&first, &second, &third}) combiner.add(std::move(*profile));
  Profile combined = std::move(combiner).take();
  ASSERT_EQ(combined.mappings.size(), 2u);
  EXPECT_EQ(combined.mappings[0], low);
  EXPECT_EQ(combined.mappings[1], high);
  EXPECT_EQ(combined.processes[0].mapping, 0u);
  EXPECT_EQ(combined.processes[1].mapping, 1u);
  EXPECT_EQ(combined.processes[2].mapping, 0u);
  ASSERT_EQ(combined.locations.size(), 2u);
  EXPECT_EQ(combined.locations[0].mapping, 0u);
  EXPECT_EQ(combined.locations[1].mapping, 1u);
  EXPECT_EQ(combined.locations[1].address, 0x7f0000401100u);
  EXPECT_EQ(combined.stack_locations, (std::vector<uint32_t>{0, 1, 0}));
  EXPECT_EQ(combined.type_names.size(), 1u);
}

TEST(ProfileCombiner, DifferentBinariesAndDifferentFramesAtOneAddressStayApart) {
  // Two binaries with text at the same address: the same address in each
  // is code of its own.
  Profile compile = of_process(1, "compile", kCompile, {at(0x401100, {"ssa.Compile"})});
  compile.add_sample(std::vector<uint32_t>{0}, "ssa.Value", {1, 8});
  Profile server = of_process(2, "server", kServer, {at(0x401100, {"main.handle"}), at(0x401100, {})});
  // The same address with fewer frames, as when hidden frames are dropped.
  server.add_sample(std::vector<uint32_t>{0}, kRawMemory, {1, 8});
  server.add_sample(std::vector<uint32_t>{1}, kRawMemory, {1, 8});

  ProfileCombiner combiner;
  combiner.add(std::move(compile));
  combiner.add(std::move(server));
  Profile combined = std::move(combiner).take();
  EXPECT_EQ(combined.mappings.size(), 2u);
  EXPECT_EQ(combined.locations.size(), 3u);
  EXPECT_EQ(described(combined), (std::vector<std::string>{"compile:1:ssa.Compile; ssa.Value 1",
                                                           "server:2:main.handle; raw memory 1",
                                                           "server:2:[unknown]; raw memory 1"}));
}

TEST(ProfileCombiner, InUseFiguresAreSummedWhereAnyProcessHasThem) {
  Profile heap = of_process(1, "server", kServer, {at(0x401100, {"main.handle"})});
  heap.add_sample(std::vector<uint32_t>{0}, "main.Request", {4, 256}).inuse = {1, 64};
  heap.has_inuse = true;
  heap.inuse = {1, 64};
  heap.totals = {4, 256};
  Profile exact = of_process(2, "compile", kCompile, {at(0x401100, {"ssa.Compile"})});
  exact.add_sample(std::vector<uint32_t>{0}, "ssa.Value", {2, 16});
  exact.totals = {2, 16};

  ProfileCombiner combiner;
  combiner.add(std::move(exact));
  combiner.add(std::move(heap));
  // What was added is left empty: its memory is the combiner's, or freed.
  EXPECT_TRUE(heap.samples.empty() && heap.locations.empty() && heap.stack_locations.empty());
  Profile combined = std::move(combiner).take();
  EXPECT_TRUE(combined.has_inuse);
  EXPECT_EQ(combined.inuse.bytes, 64u);
  EXPECT_EQ(combined.totals.count, 6u);
  EXPECT_EQ(combined.totals.bytes, 272u);
  ASSERT_EQ(combined.samples.size(), 2u);
  EXPECT_EQ(combined.samples[0].inuse.bytes, 0u);
  EXPECT_EQ(combined.samples[1].inuse.bytes, 64u);
  EXPECT_EQ(combined.samples[1].process, 1u);
}

}  // namespace
}  // namespace gotrace
