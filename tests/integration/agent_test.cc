// gotrace agent against a real Pyroscope server (scripts/pyroscope-server.sh
// builds it, pinned): two services profiled every interval, each a series
// of its own with its labels, holding exactly what the agent's own files of
// the same intervals hold, site by site; and a server that goes down for a
// while costs the agent bounded memory, counted losses and nothing of its
// tracing, and gets the pushes again once it is back.
//
// These need root (or CAP_SYS_ADMIN). CI runs as root; a developer run
// without them skips with the reason printed.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/agent_run.h"
#include "tests/support/background_gotrace.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/pyroscope_server.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;
using std::chrono::seconds;

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string selector(const std::string& service) { return "{service_name=\"" + service + "\"}"; }

TEST(Agent, PushesEachServiceEveryIntervalAndPyroscopeHoldsWhatItsFilesHold) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchDirectory scratch("agent");
  PyroscopeServer server;
  ASSERT_TRUE(server.start(scratch.path() + "/pyroscope")) << server.log_tail();
  AllocsService orders(scratch.path(), "orders"), billing(scratch.path(), "billing");
  std::string dir = scratch.path() + "/profiles";
  int64_t from = unix_ms() - 60000;
  BackgroundGotrace agent({"agent", "--interval", "2s", "--push", server.url(), "--dir", dir, "--health",
                           "127.0.0.1:0", "--label", "env=test"});
  // Three intervals of each service, and memory in use in one of them: an
  // object counts as in use once two collections ended since it was
  // sampled, which on a slow machine takes a few intervals.
  auto ready = [&](const std::string& service) {
    std::vector<std::string> files = profile_files(dir, service);
    return files.size() >= 3 && !sites_of_files(files, "inuse_space").empty();
  };
  ASSERT_TRUE(wait_for([&] { return ready("orders") && ready("billing"); }, seconds(90))) << agent.err();
  int port = health_port(agent);
  ASSERT_NE(port, 0) << agent.err();
  // Everything made so far is pushed before the agent stops.
  ASSERT_TRUE(wait_for([&] {
    Metrics now = read_metrics(port);
    return metric(now, "gotrace_agent_push_queue_profiles") == 0 && metric(now, "gotrace_agent_pushes_total") >= 6;
  }, seconds(30))) << agent.err();
  agent.signal(SIGTERM);
  ASSERT_EQ(agent.wait(), 0) << agent.err();
  std::map<std::string, pid_t> pids{{"orders", orders.pid()}, {"billing", billing.pid()}};
  EXPECT_EQ(orders.end(), 0);
  EXPECT_EQ(billing.end(), 0);
  int64_t until = unix_ms() + 60000;

  for (const AllocsService* service : {&orders, &billing}) {
    auto series = server.series({selector(service->name())}, from, until);
    ASSERT_TRUE(series) << series.error().message;
    ASSERT_FALSE(series->empty()) << service->name() << " is not in Pyroscope\n" << agent.err();
    std::set<std::string> types;
    for (const PyroscopeLabels& labels : *series) {
      EXPECT_EQ(labels.at("pid"), std::to_string(pids[service->name()]));
      EXPECT_EQ(labels.at("env"), "test");
      EXPECT_FALSE(labels.at("hostname").empty());
      EXPECT_TRUE(labels.at("go_version").starts_with("go"));
      // The type and the kind are in the profile, not series of their own.
      EXPECT_EQ(labels.count("type") + labels.count("alloc") + labels.count("process"), 0u);
      types.insert(labels.at("__profile_type__"));
    }
    EXPECT_TRUE(types.count("memory:alloc_objects:count:space:bytes")) << service->name();
    EXPECT_TRUE(types.count("memory:inuse_space:bytes:space:bytes")) << service->name();

    // Site by site, what the server holds is what the files hold, the
    // same intervals summed.
    std::vector<std::string> files = profile_files(dir, service->name());
    EXPECT_GE(files.size(), 3u);
    for (auto [type, id] : {std::pair{"alloc_objects", "memory:alloc_objects:count:space:bytes"},
                            {"alloc_space", "memory:alloc_space:bytes:space:bytes"}}) {
      SiteFigures in_files = sites_of_files(files, type);
      auto merged = server.select_merge_profile(id, selector(service->name()), from, until);
      ASSERT_TRUE(merged) << merged.error().message;
      SiteFigures in_server = sites_of_bytes(*merged, type);
      EXPECT_EQ(in_server, in_files) << service->name() << " " << type;
      EXPECT_GT(in_files["main.siteLeakKept"], 0) << service->name() << " " << type;
      EXPECT_GT(in_files["main.siteLeakTemporary"], 0) << service->name() << " " << type;
    }
  }
}

// What the agent's memory may grow by while its server is down, beside the
// queue's bound. A gotrace built with AddressSanitizer (as the tests are
// under it) holds freed memory in its quarantine a while: more slack.
#if defined(__SANITIZE_ADDRESS__)
constexpr int64_t kResidentSlackKib = 128 * 1024;
#else
constexpr int64_t kResidentSlackKib = 16 * 1024;
#endif

// The agent's resident memory, from /proc: what a server that is down may not grow.
int64_t resident_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("VmRSS:")) return std::stoll(line.substr(6));
  return -1;
}

TEST(Agent, AServerThatGoesDownCostsBoundedMemoryAndCountedLossesAndPushesResumeWhenItIsBack) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchDirectory scratch("agent-outage");
  PyroscopeServer server;
  ASSERT_TRUE(server.start(scratch.path() + "/pyroscope")) << server.log_tail();
  AllocsService orders(scratch.path(), "orders");
  std::string dir = scratch.path() + "/profiles";
  int64_t from = unix_ms() - 60000;
  // A queue that holds a few profiles only (one of orders is about 1 KiB),
  // so that an outage of seconds fills it.
  BackgroundGotrace agent({"agent", "--interval", "1s", "--push", server.url(), "--dir", dir, "--health",
                           "127.0.0.1:0", "--push-queue", "8KiB"});
  int port = 0;
  ASSERT_TRUE(wait_for([&] { return (port = health_port(agent)) != 0; }, seconds(60))) << agent.err();
  ASSERT_TRUE(wait_for([&] { return metric(read_metrics(port), "gotrace_agent_pushes_total") >= 2; }, seconds(30)))
      << agent.err();

  server.kill();
  size_t files_before = profile_files(dir, "orders").size();
  int64_t resident_before = resident_kib(agent.pid());
  // Down for long enough that the queue fills and drops its oldest.
  ASSERT_TRUE(wait_for([&] { return metric(read_metrics(port), "gotrace_agent_push_dropped_total") >= 1; },
                       seconds(60)))
      << agent.err();
  std::this_thread::sleep_for(seconds(3));
  Metrics down = read_metrics(port);
  // Tracing went on: a file each interval, as before.
  EXPECT_GE(profile_files(dir, "orders").size(), files_before + 3);
  EXPECT_GT(metric(down, "gotrace_agent_push_failures_total"), 0);
  EXPECT_LE(metric(down, "gotrace_agent_push_queue_bytes"), 8 * 1024);
  EXPECT_EQ(metric(down, "gotrace_agent_push_backing_off"), 1);
  // Memory stays bounded: what the queue holds at most, and some slack.
  EXPECT_LT(resident_kib(agent.pid()) - resident_before, kResidentSlackKib) << "KiB more while the server was down";

  ASSERT_TRUE(server.restart()) << server.log_tail();
  double sent_before = metric(read_metrics(port), "gotrace_agent_pushes_total");
  ASSERT_TRUE(wait_for([&] {
    Metrics now = read_metrics(port);
    return metric(now, "gotrace_agent_pushes_total") > sent_before + 2 && metric(now, "gotrace_agent_push_queue_profiles") == 0;
  }, seconds(90))) << agent.err();
  // What the server had before it was killed is lost with it (its head
  // block is in memory): whatever it has of orders now came once it was back.
  auto series = server.series({selector("orders")}, from, unix_ms() + 60000);
  ASSERT_TRUE(series) << series.error().message;
  EXPECT_FALSE(series->empty()) << "nothing of orders reached the server once it was back\n" << agent.err();

  agent.signal(SIGTERM);
  ASSERT_EQ(agent.wait(), 0) << agent.err();
  EXPECT_EQ(orders.end(), 0);
  std::string err = agent.err();
  // Said once each, not a line an attempt.
  EXPECT_NE(err.find("failing"), std::string::npos) << err;
  EXPECT_NE(err.find("resumed"), std::string::npos) << err;
  EXPECT_NE(err.find("dropped"), std::string::npos) << err;
}

TEST(Agent, AProcessThatTracingCostsTooMuchIsNoLongerTracedAndTheOthersAre) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchDirectory scratch("agent-guard");
  // Every allocation sampled, flat out: each a probe hit.
  AllocsService hungry(scratch.path(), "hungry", "steady");
  AllocsService orders(scratch.path(), "orders");
  std::string dir = scratch.path() + "/profiles";
  BackgroundGotrace agent({"agent", "--interval", "1s", "--dir", dir, "--health", "127.0.0.1:0"});
  std::string said = fmt::format("gotrace: pid {} (hungry): its heap profiler's samples at MemProfileRate 1 cost it ",
                                 hungry.pid());
  ASSERT_TRUE(wait_for([&] { return agent.err().find(said) != std::string::npos; }, seconds(60))) << agent.err();
  EXPECT_NE(agent.err().find("over --max-overhead 3%: no longer traced"), std::string::npos) << agent.err();
  // Its last profile is written; orders goes on being traced, at little cost.
  size_t orders_files = profile_files(dir, "orders").size();
  ASSERT_TRUE(wait_for([&] { return profile_files(dir, "orders").size() >= orders_files + 2; }, seconds(30)))
      << agent.err();
  EXPECT_FALSE(profile_files(dir, "hungry").empty());
  size_t hungry_files = profile_files(dir, "hungry").size();
  int port = health_port(agent);
  Metrics metrics = read_metrics(port);
  std::string orders_key = fmt::format("{{service=\"orders\",pid=\"{}\"}}", orders.pid());
  double overhead = metric(metrics, "gotrace_agent_overhead_ratio" + orders_key);
  EXPECT_GE(overhead, 0) << "orders' overhead is not reported";
  EXPECT_LT(overhead, 0.03);
  EXPECT_EQ(metric(metrics, fmt::format("gotrace_agent_events_total{{service=\"hungry\",pid=\"{}\"}}", hungry.pid())),
            -1)
      << "hungry is still reported as traced";
  std::this_thread::sleep_for(seconds(2));
  EXPECT_EQ(profile_files(dir, "hungry").size(), hungry_files) << "hungry is still profiled";
  agent.signal(SIGTERM);
  ASSERT_EQ(agent.wait(), 0) << agent.err();
  EXPECT_EQ(hungry.end(), 0);
  EXPECT_EQ(orders.end(), 0);
}

}  // namespace
}  // namespace gotrace
