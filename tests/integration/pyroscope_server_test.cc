// The Pyroscope server of the agent's tests (tests/support/pyroscope_server.h)
// against itself: a profile gotrace's pprof writer encodes, pushed as
// `gotrace agent --push` will push it, comes back from the server's query
// API with its labels and its totals, the profile types the server derives
// from gotrace's sample types are the ones below, and what a graceful stop
// keeps and a kill loses.
//
// Needs no root, but runs with the integration tier, which has
// scripts/setup.sh's server built.
#include "tests/support/pyroscope_server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "export/profile.pb.h"
#include "tests/support/scratch_file.h"
#include "userspace/export/pprof_writer.h"

namespace gotrace {
namespace {

using namespace testing;

// The profile types the server makes of gotrace's six sample types (with
// the in-use figures): "<__name__>:<sample type>:<unit>:<period type>:<unit>".
const std::set<std::string> kGotraceProfileTypes = {
    "memory:alloc_objects:count:space:bytes",      "memory:alloc_space:bytes:space:bytes",
    "memory:inuse_objects:count:space:bytes",      "memory:inuse_space:bytes:space:bytes",
    "memory:peak_inuse_objects:count:space:bytes", "memory:peak_inuse_space:bytes:space:bytes"};
constexpr const char* kAllocObjects = "memory:alloc_objects:count:space:bytes";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Three stacks of one process, two of its samples made by newobject and one
// by growslice, of two types: 6 objects, 152 bytes allocated.
Profile gotrace_profile() {
  Profile profile;
  profile.locations = {
      {0x401235, 0x401235, {{"main.mkPair", "/src/main.go", 40, 38, false}}},
      {0x401801, 0x401801, {{"main.main", "/src/main.go", 90, 80, false}}},
      {0x401901, 0x401901, {{"main.grow", "/src/main.go", 60, 58, false}}},
  };
  profile.kind_names = {"", "newobject", "growslice"};
  profile.add_sample(std::vector<uint32_t>{0, 1}, "main.Pair", {3, 48}).kind = 1;
  profile.add_sample(std::vector<uint32_t>{2, 1}, "main.Record", {2, 96}).kind = 2;
  profile.add_sample(std::vector<uint32_t>{1}, "main.Pair", {1, 8}).kind = 1;
  profile.has_inuse = true;
  for (Sample& sample : profile.samples) {
    sample.inuse = {1, 8};
    sample.peak_inuse = {2, 16};
  }
  profile.mappings = {{"/srv/bin/orders", "abc123", 0x401000, 0x500000, 0x1000}};
  profile.processes = {{4242, "orders", "", 0}};
  return profile;
}

std::string encoded(const Profile& profile) {
  PprofMetadata metadata;
  metadata.time_nanos = now_ms() * 1000000;
  metadata.duration_nanos = 10'000'000'000;
  auto bytes = encode_pprof(profile, metadata);
  EXPECT_TRUE(bytes) << bytes.error().message;
  return bytes ? *bytes : "";
}

// The labels an agent pushes a process's profile with.
PyroscopeLabels push_labels(const std::string& service) {
  return {{"__name__", "memory"}, {"__delta__", "false"}, {"service_name", service}, {"pid", "4242"}};
}

// The total of the first sample type of the merged profile of a service.
int64_t merged_total(const PyroscopeServer& server, const std::string& type, const std::string& service) {
  auto bytes = server.select_merge_profile(type, "{service_name=\"" + service + "\"}", now_ms() - 3600000,
                                           now_ms() + 60000);
  EXPECT_TRUE(bytes) << bytes.error().message;
  if (!bytes) return -1;
  pprof::Profile merged;
  EXPECT_TRUE(merged.ParseFromString(*bytes)) << "SelectMergeProfile did not answer a google.v1.Profile";
  int64_t total = 0;
  for (const auto& sample : merged.sample()) total += sample.value(0);
  return total;
}

// The series of a service, of one profile type.
std::vector<PyroscopeLabels> series_of(const PyroscopeServer& server, const std::string& service) {
  auto series = server.series({"{service_name=\"" + service + "\", __profile_type__=\"" + kAllocObjects + "\"}"},
                              now_ms() - 3600000, now_ms() + 60000);
  EXPECT_TRUE(series) << series.error().message;
  return series ? *series : std::vector<PyroscopeLabels>{};
}

TEST(PyroscopeServer, APushedGotraceProfileComesBackWithItsLabelsAndTotals) {
  ScratchDirectory data("pyroscope");
  PyroscopeServer server;
  Status started = server.start(data.path());
  ASSERT_TRUE(started) << started.error().message;
  Status pushed = server.push(push_labels("orders"), encoded(gotrace_profile()));
  ASSERT_TRUE(pushed) << pushed.error().message << "\n" << server.log_tail();

  auto types = server.profile_types(now_ms() - 3600000, now_ms() + 60000);
  ASSERT_TRUE(types) << types.error().message;
  EXPECT_EQ(std::set<std::string>(types->begin(), types->end()), kGotraceProfileTypes);

  // The server splits a profile into one series for each distinct set of
  // its samples' string labels (all but span_id): here one per type and
  // allocation kind, each with the process's name; the numeric pid label of
  // the samples is dropped, and the pushed pid stays.
  std::set<std::string> split;
  for (const PyroscopeLabels& labels : series_of(server, "orders")) {
    EXPECT_EQ(labels.at("pid"), "4242");
    EXPECT_EQ(labels.at("process"), "orders");
    EXPECT_EQ(labels.at("__name__"), "memory");
    split.insert(labels.at("type") + "/" + labels.at("alloc"));
  }
  EXPECT_EQ(split, (std::set<std::string>{"main.Pair/newobject", "main.Record/growslice"}));

  EXPECT_EQ(merged_total(server, kAllocObjects, "orders"), 6);
  EXPECT_EQ(merged_total(server, "memory:alloc_space:bytes:space:bytes", "orders"), 152);
  EXPECT_EQ(merged_total(server, "memory:inuse_space:bytes:space:bytes", "orders"), 24);
  EXPECT_EQ(merged_total(server, "memory:peak_inuse_objects:count:space:bytes", "orders"), 6);
  EXPECT_TRUE(series_of(server, "payments").empty());
}

TEST(PyroscopeServer, AStopKeepsWhatWasPushedAndAKillLosesWhatWasNotWrittenOut) {
  ScratchDirectory data("pyroscope");
  PyroscopeServer server;
  Status started = server.start(data.path());
  ASSERT_TRUE(started) << started.error().message;
  std::string url = server.url();
  ASSERT_TRUE(server.push(push_labels("orders"), encoded(gotrace_profile())));
  // SIGTERM: the server writes its head block out before it exits.
  Status stopped = server.stop();
  ASSERT_TRUE(stopped) << stopped.error().message;
  Status restarted = server.restart();
  ASSERT_TRUE(restarted) << restarted.error().message;
  EXPECT_EQ(server.url(), url);
  EXPECT_FALSE(series_of(server, "orders").empty()) << server.log_tail();
  EXPECT_EQ(merged_total(server, kAllocObjects, "orders"), 6);

  // SIGKILL: what is only in the head block is gone.
  ASSERT_TRUE(server.push(push_labels("payments"), encoded(gotrace_profile())));
  ASSERT_FALSE(series_of(server, "payments").empty());
  server.kill();
  restarted = server.restart();
  ASSERT_TRUE(restarted) << restarted.error().message;
  EXPECT_TRUE(series_of(server, "payments").empty());
  EXPECT_EQ(merged_total(server, kAllocObjects, "orders"), 6);
}

TEST(PyroscopeServer, AFailedPushSaysWhatTheServerSaid) {
  ScratchDirectory data("pyroscope");
  PyroscopeServer server;
  Status started = server.start(data.path());
  ASSERT_TRUE(started) << started.error().message;
  Status pushed = server.push(push_labels("orders"), "not a profile");
  ASSERT_FALSE(pushed);
  EXPECT_NE(pushed.error().message.find("/push.v1.PusherService/Push': HTTP 4"), std::string::npos)
      << pushed.error().message;
}

}  // namespace
}  // namespace gotrace
