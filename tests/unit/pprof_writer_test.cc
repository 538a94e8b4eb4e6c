// The pprof profile of a profile written by hand, read back with the
// format's own message classes.
#include "userspace/export/pprof_writer.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <map>
#include <string>
#include <vector>

#include "export/profile.pb.h"

namespace gotrace {
namespace {

std::string gunzip(const std::string& data) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, 15 + 16 /* gzip only */), Z_OK);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = data.size();
  std::string out;
  char buffer[16384];
  int status = Z_OK;
  while (status == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    status = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - stream.avail_out);
  }
  EXPECT_EQ(status, Z_STREAM_END) << "not a complete gzip stream";
  inflateEnd(&stream);
  return out;
}

// A site whose call was inlined into its caller, called from main.main,
// once for each of two types; and one allocation from a return address
// that could not be resolved, outside the executable's text.
Profile hand_made_profile() {
  Profile profile;
  profile.locations = {
      {0x401235, 0x401235,
       {{"main.mkPair", "/src/main.go", 40, 38, true}, {"main.siteInlined", "/src/main.go", 52, 50, false}}},
      {0x401801, 0x401801, {{"main.main", "/src/main.go", 90, 80, false}}},
      {0x7f0000001000, 0, {}},
      {0x401901, 0x401901, {{"main.mkPair", "/src/main.go", 41, 38, true}, {"main.main", "/src/main.go", 91, 80}}},
  };
  profile.add_sample(std::vector<uint32_t>{0, 1}, "main.Pair", {3, 48});
  profile.add_sample(std::vector<uint32_t>{3}, kRawMemory, {1, 8});
  profile.add_sample(std::vector<uint32_t>{2, 1}, "main.Record", {2, 96});
  profile.mappings = {{"/srv/bin/server", "abc123", 0x401000, 0x500000, 0x1000}};
  profile.processes = {{4242, "server", "", 0}};
  return profile;
}

pprof::Profile encoded(const Profile& profile, const PprofMetadata& metadata) {
  pprof::Profile decoded;
  auto bytes = encode_pprof(profile, metadata);
  EXPECT_TRUE(bytes) << bytes.error().message;
  if (bytes) {
    EXPECT_TRUE(decoded.ParseFromString(gunzip(*bytes)));
  }
  return decoded;
}

PprofMetadata metadata() {
  PprofMetadata metadata;
  metadata.time_nanos = 1700000000000000000;
  metadata.duration_nanos = 2000000000;
  metadata.period = 512;
  metadata.comments = {"gotrace"};
  return metadata;
}

TEST(PprofWriter, InUseFiguresAddGosTwoInUseSampleTypesThenThePeaksAfterTheAllocationOnes) {
  Profile profile = hand_made_profile();
  profile.has_inuse = true;
  for (size_t i = 0; i < profile.samples.size(); ++i) {
    profile.samples[i].inuse = {i, 100 * i};
    profile.samples[i].peak_inuse = {10 + i, 1000 * i};
  }
  pprof::Profile pb = encoded(profile, metadata());
  auto text = [&](int64_t index) { return pb.string_table(index); };
  std::vector<std::string> types;
  for (const auto& type : pb.sample_type()) types.push_back(text(type.type()) + "/" + text(type.unit()));
  EXPECT_EQ(types, (std::vector<std::string>{"alloc_objects/count", "alloc_space/bytes", "inuse_objects/count",
                                             "inuse_space/bytes", "peak_inuse_objects/count",
                                             "peak_inuse_space/bytes"}));
  EXPECT_EQ(text(pb.default_sample_type()), "alloc_space");
  ASSERT_EQ(pb.sample_size(), 3);
  EXPECT_EQ(std::vector<int64_t>(pb.sample(2).value().begin(), pb.sample(2).value().end()),
            (std::vector<int64_t>{2, 96, 2, 200, 12, 2000}));
}

TEST(PprofWriter, SampleTypesPeriodAndValuesAreGosHeapProfiles) {
  pprof::Profile pb = encoded(hand_made_profile(), metadata());
  auto text = [&](int64_t index) { return pb.string_table(index); };
  ASSERT_GT(pb.string_table_size(), 0);
  EXPECT_EQ(text(0), "");
  ASSERT_EQ(pb.sample_type_size(), 2);
  EXPECT_EQ(text(pb.sample_type(0).type()) + "/" + text(pb.sample_type(0).unit()), "alloc_objects/count");
  EXPECT_EQ(text(pb.sample_type(1).type()) + "/" + text(pb.sample_type(1).unit()), "alloc_space/bytes");
  EXPECT_EQ(text(pb.period_type().type()) + "/" + text(pb.period_type().unit()), "space/bytes");
  EXPECT_EQ(pb.period(), 512);
  EXPECT_EQ(pb.time_nanos(), 1700000000000000000);
  EXPECT_EQ(pb.duration_nanos(), 2000000000);
  ASSERT_EQ(pb.comment_size(), 1);
  EXPECT_EQ(text(pb.comment(0)), "gotrace");
  EXPECT_EQ(text(pb.default_sample_type()), "alloc_space");

  ASSERT_EQ(pb.sample_size(), 3);
  std::vector<std::vector<int64_t>> values;
  std::vector<std::string> types;
  for (const auto& sample : pb.sample()) {
    values.push_back({sample.value().begin(), sample.value().end()});
    ASSERT_EQ(sample.label_size(), 3);  // and the process's two: see ProcessesAreLabels
    EXPECT_EQ(text(sample.label(0).key()), "type");
    types.push_back(text(sample.label(0).str()));
  }
  EXPECT_EQ(values, (std::vector<std::vector<int64_t>>{{3, 48}, {1, 8}, {2, 96}}));
  EXPECT_EQ(types, (std::vector<std::string>{"main.Pair", "raw memory", "main.Record"}));
  EXPECT_EQ(std::vector<uint64_t>(pb.sample(0).location_id().begin(), pb.sample(0).location_id().end()),
            (std::vector<uint64_t>{1, 2}));
}

// "function:line" for each line of a location, in the order written.
std::vector<std::string> lines_of(const pprof::Profile& pb, const pprof::Location& location) {
  std::vector<std::string> out;
  for (const auto& line : location.line()) {
    const pprof::Function& function = pb.function(line.function_id() - 1);
    EXPECT_EQ(function.id(), line.function_id());
    out.push_back(pb.string_table(function.name()) + ":" + std::to_string(line.line()));
  }
  return out;
}

TEST(PprofWriter, LocationsKeepInlinedLinesInnermostFirst) {
  pprof::Profile pb = encoded(hand_made_profile(), metadata());
  ASSERT_EQ(pb.location_size(), 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(pb.location(i).id(), uint64_t(i + 1));
  // The call instruction, one byte before the return address.
  EXPECT_EQ(pb.location(0).address(), 0x401234u);
  EXPECT_EQ(lines_of(pb, pb.location(0)), (std::vector<std::string>{"main.mkPair:40", "main.siteInlined:52"}));
  EXPECT_EQ(lines_of(pb, pb.location(1)), (std::vector<std::string>{"main.main:90"}));
  EXPECT_EQ(lines_of(pb, pb.location(3)), (std::vector<std::string>{"main.mkPair:41", "main.main:91"}));
  // Inside the executable's text, the mapping; outside, none.
  EXPECT_EQ(pb.location(0).mapping_id(), 1u);
  EXPECT_EQ(pb.location(2).mapping_id(), 0u);
  // An address that could not be resolved is one line of "[unknown]".
  EXPECT_EQ(lines_of(pb, pb.location(2)), (std::vector<std::string>{"[unknown]:0"}));
}

TEST(PprofWriter, FunctionsAreOneByNameAndFile) {
  pprof::Profile pb = encoded(hand_made_profile(), metadata());
  std::vector<std::string> functions;
  for (const auto& function : pb.function()) {
    EXPECT_EQ(function.system_name(), function.name());
    functions.push_back(fmt::format("{} {} {}", pb.string_table(function.name()), pb.string_table(function.filename()),
                                    function.start_line()));
  }
  EXPECT_EQ(functions, (std::vector<std::string>{"main.mkPair /src/main.go 38", "main.siteInlined /src/main.go 50",
                                                 "main.main /src/main.go 80", "[unknown]  0"}));
}

TEST(PprofWriter, MappingDescribesTheExecutable) {
  pprof::Profile pb = encoded(hand_made_profile(), metadata());
  ASSERT_EQ(pb.mapping_size(), 1);
  const pprof::Mapping& mapping = pb.mapping(0);
  EXPECT_EQ(mapping.id(), 1u);
  EXPECT_EQ(mapping.memory_start(), 0x401000u);
  EXPECT_EQ(mapping.memory_limit(), 0x500000u);
  EXPECT_EQ(mapping.file_offset(), 0x1000u);
  EXPECT_EQ(pb.string_table(mapping.filename()), "/srv/bin/server");
  EXPECT_EQ(pb.string_table(mapping.build_id()), "abc123");
  // One unresolved location: pprof may try to symbolize the rest itself.
  EXPECT_FALSE(mapping.has_functions());
  EXPECT_FALSE(mapping.has_inline_frames());

  Profile resolved = hand_made_profile();
  resolved.locations[2].frames = {{"main.helper", "/src/main.go", 7, 5, false}};
  pprof::Profile resolved_pb = encoded(resolved, metadata());
  const pprof::Mapping& complete = resolved_pb.mapping(0);
  EXPECT_TRUE(complete.has_functions());
  EXPECT_TRUE(complete.has_filenames());
  EXPECT_TRUE(complete.has_line_numbers());
  EXPECT_TRUE(complete.has_inline_frames());
}

TEST(PprofWriter, AMergedStackEndsAtTheMergedFrame) {
  Profile profile = hand_made_profile();
  profile.samples[2].merged = true;
  pprof::Profile pb = encoded(profile, metadata());
  ASSERT_EQ(pb.sample_size(), 3);
  ASSERT_EQ(pb.location_size(), 5);
  // One location after the profile's own, with no address and no mapping,
  // at the root of the merged sample only.
  const pprof::Location& merged = pb.location(4);
  EXPECT_EQ(merged.id(), 5u);
  EXPECT_EQ(merged.address(), 0u);
  EXPECT_EQ(merged.mapping_id(), 0u);
  EXPECT_EQ(lines_of(pb, merged), std::vector<std::string>{"[merged:--max-memory]:0"});
  EXPECT_EQ(std::vector<uint64_t>(pb.sample(2).location_id().begin(), pb.sample(2).location_id().end()),
            (std::vector<uint64_t>{3, 2, 5}));
  EXPECT_EQ(pb.sample(0).location_id_size(), 2);
  // Without a merged sample, no such location.
  EXPECT_EQ(encoded(hand_made_profile(), metadata()).location_size(), 4);
}

TEST(PprofWriter, StreamsManySamplesThroughSmallWrites) {
  // More than one compression chunk of samples, read back whole.
  Profile profile = hand_made_profile();
  for (uint64_t i = 0; i < 20000; ++i) profile.add_sample(std::vector<uint32_t>{0, 1, 3}, "main.Pair", {i, 16 * i});
  pprof::Profile pb = encoded(profile, metadata());
  ASSERT_EQ(pb.sample_size(), 20003);
  EXPECT_EQ(pb.sample(20002).value(0), 19999);
  EXPECT_EQ(pb.sample(20002).value(1), 16 * 19999);
}

// The hand-made profile's samples as a second process's, of another binary
// ("worker"), in a container: three processes in all, two of one mapping.
Profile three_processes() {
  Profile profile = hand_made_profile();
  profile.processes.push_back({4243, "server", "", 0});
  profile.processes.push_back({77, "worker", "/system.slice/worker.service", 1});
  profile.mappings.push_back({"/usr/bin/worker", "def456", 0x7f1000, 0x7f2000, 0});
  profile.locations.push_back({0x7f1101, 0x401101, {{"main.work", "/src/worker.go", 12, 10, false}}, 1});
  profile.add_sample(std::vector<uint32_t>{0, 1}, "main.Pair", {1, 16}).process = 1;
  profile.add_sample(std::vector<uint32_t>{4}, "main.Job", {7, 70}).process = 2;
  return profile;
}

// "key=value" for each label of a sample, a number as #N.
std::vector<std::string> labels_of(const pprof::Profile& pb, const pprof::Sample& sample) {
  std::vector<std::string> out;
  for (const auto& label : sample.label())
    out.push_back(pb.string_table(label.key()) + "=" +
                  (label.str() != 0 ? pb.string_table(label.str()) : "#" + std::to_string(label.num())));
  return out;
}

TEST(PprofWriter, ProcessesAreLabelsOfEverySample) {
  pprof::Profile pb = encoded(three_processes(), metadata());
  ASSERT_EQ(pb.sample_size(), 5);
  EXPECT_EQ(labels_of(pb, pb.sample(0)), (std::vector<std::string>{"type=main.Pair", "process=server", "pid=#4242"}));
  EXPECT_EQ(labels_of(pb, pb.sample(3)), (std::vector<std::string>{"type=main.Pair", "process=server", "pid=#4243"}));
  // A container is a label only where there is one.
  EXPECT_EQ(labels_of(pb, pb.sample(4)), (std::vector<std::string>{"type=main.Job", "process=worker", "pid=#77",
                                                                   "container=/system.slice/worker.service"}));
}

TEST(PprofWriter, EachMappingIsOneAndEachLocationPointsToItsOwn) {
  pprof::Profile pb = encoded(three_processes(), metadata());
  ASSERT_EQ(pb.mapping_size(), 2);
  EXPECT_EQ(pb.mapping(0).id(), 1u);
  EXPECT_EQ(pb.string_table(pb.mapping(0).filename()), "/srv/bin/server");
  const pprof::Mapping& worker = pb.mapping(1);
  EXPECT_EQ(worker.id(), 2u);
  EXPECT_EQ(worker.memory_start(), 0x7f1000u);
  EXPECT_EQ(worker.memory_limit(), 0x7f2000u);
  EXPECT_EQ(pb.string_table(worker.filename()), "/usr/bin/worker");
  EXPECT_EQ(pb.string_table(worker.build_id()), "def456");
  // Every location of the worker resolved, unlike one of the server's.
  EXPECT_TRUE(worker.has_functions());
  EXPECT_FALSE(pb.mapping(0).has_functions());
  ASSERT_EQ(pb.location_size(), 5);
  EXPECT_EQ(pb.location(0).mapping_id(), 1u);
  EXPECT_EQ(pb.location(2).mapping_id(), 0u);  // outside the server's text
  EXPECT_EQ(pb.location(4).mapping_id(), 2u);
  EXPECT_EQ(pb.location(4).address(), 0x7f1100u);
  EXPECT_EQ(std::vector<uint64_t>(pb.sample(4).location_id().begin(), pb.sample(4).location_id().end()),
            std::vector<uint64_t>{5});
}

// For a backend that makes a series of each set of sample labels: none, and
// each sample's type as its leaf frame, above the stack as it was.
TEST(PprofWriter, WithoutSampleLabelsTheTypeIsTheLeafFrameAndNoPeakColumns) {
  Profile profile = hand_made_profile();
  profile.has_inuse = true;
  PprofMetadata plain = metadata();
  plain.sample_labels = false;
  plain.peak_inuse = false;
  pprof::Profile pb = encoded(profile, plain);
  ASSERT_EQ(pb.sample_type_size(), 4);
  EXPECT_EQ(pb.string_table(pb.sample_type(3).type()), "inuse_space");
  std::map<uint64_t, std::string> function_names;
  for (const auto& function : pb.function()) function_names[function.id()] = pb.string_table(function.name());
  std::map<uint64_t, std::vector<std::string>> location_names;
  for (const auto& location : pb.location())
    for (const auto& line : location.line()) location_names[location.id()].push_back(function_names[line.function_id()]);
  ASSERT_EQ(pb.sample_size(), 3);
  std::vector<std::string> leaves, below;
  for (const auto& sample : pb.sample()) {
    EXPECT_EQ(sample.label_size(), 0);
    EXPECT_EQ(sample.value_size(), 4);
    ASSERT_GE(sample.location_id_size(), 2);
    leaves.push_back(location_names[sample.location_id(0)].at(0));
    below.push_back(location_names[sample.location_id(1)].back());
  }
  EXPECT_EQ(leaves, (std::vector<std::string>{"[main.Pair]", "[raw memory]", "[main.Record]"}));
  // The first location of each sample's own stack follows, as it was.
  EXPECT_EQ(below, (std::vector<std::string>{"main.siteInlined", "main.main", "[unknown]"}));
  // One location a type, after the profile's own.
  EXPECT_EQ(pb.location_size(), int(profile.locations.size() + profile.type_names.size()));
}

}  // namespace
}  // namespace gotrace
