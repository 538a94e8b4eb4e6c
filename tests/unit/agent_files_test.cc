// The agent's files under --dir, and the labels of its series: names a
// person finds a service and a time by, a cap that removes the oldest of
// the agent's own files and nothing else, and labels and rules that say
// clearly what is wrong with them.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/support/scratch_file.h"
#include "userspace/agent/profile_directory.h"
#include "userspace/agent/series_labels.h"

namespace gotrace {
namespace {

namespace fs = std::filesystem;
using std::chrono::system_clock;

system_clock::time_point at(int64_t unix_seconds) { return system_clock::time_point(std::chrono::seconds(unix_seconds)); }

TEST(AgentFiles, AProfileIsNamedByItsServicePidAndTimeAndTheCapRemovesTheOldestOfOursOnly) {
  testing::ScratchDirectory scratch("agent-files");
  std::string dir = scratch.path() + "/profiles/host";
  auto directory = ProfileDirectory::open(dir, 2500);
  ASSERT_TRUE(directory) << directory.error().message;
  auto first = directory->write("orders", 1234, at(1796385600), std::string(1000, 'a'));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(*first, dir + "/orders/orders.1234.20261204T120000Z.pb.gz");
  // What is not the agent's is never counted nor removed, even where it looks like ours.
  std::ofstream(dir + "/orders/notes.txt") << std::string(5000, 'n');
  fs::create_symlink(dir + "/orders/notes.txt", dir + "/orders/orders.1.20000101T000000Z.pb.gz");
  ASSERT_TRUE(directory->write("a/b", 7, at(1796385615), std::string(1000, 'b')));
  EXPECT_TRUE(fs::exists(dir + "/a_b/a_b.7.20261204T120015Z.pb.gz"));
  EXPECT_EQ(directory->removed(), 0u);
  ASSERT_TRUE(directory->write("orders", 1234, at(1796385630), std::string(1000, 'c')));
  EXPECT_EQ(directory->removed(), 1u);
  EXPECT_FALSE(fs::exists(*first));
  EXPECT_EQ(directory->bytes(), 2000u);
  EXPECT_TRUE(fs::exists(dir + "/orders/notes.txt"));
  EXPECT_TRUE(fs::is_symlink(dir + "/orders/orders.1.20000101T000000Z.pb.gz"));
}

TEST(AgentFiles, ALinkAtAProfilesNameOrAsAServicesDirectoryIsNeverWrittenThrough) {
  testing::ScratchDirectory scratch("agent-links");
  std::string dir = scratch.path() + "/profiles", outside = scratch.path() + "/outside";
  fs::create_directories(outside);
  std::ofstream(outside + "/host-file") << "keep";
  auto directory = ProfileDirectory::open(dir, 0);
  ASSERT_TRUE(directory) << directory.error().message;
  fs::create_directories(dir + "/orders");
  std::string name = dir + "/orders/orders.1.20261204T120000Z.pb.gz";
  fs::create_symlink(outside + "/host-file", name);
  auto written = directory->write("orders", 1, at(1796385600), "profile");
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().message, "--dir: '" + name + "': there already, and not a file of the agent's");
  fs::create_symlink(outside, dir + "/billing");
  EXPECT_FALSE(directory->write("billing", 2, at(1796385600), "profile"));
  std::ifstream kept(outside + "/host-file");
  std::string text((std::istreambuf_iterator<char>(kept)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "keep");
  size_t entries = std::distance(fs::directory_iterator(outside), fs::directory_iterator{});
  EXPECT_EQ(entries, 1u) << "nothing was written outside DIR";
}

TEST(AgentFiles, ADirThatIsAFileIsRefusedByName) {
  testing::ScratchDirectory scratch("agent-files");
  std::string file = scratch.path() + "/file";
  std::ofstream(file) << "x";
  auto directory = ProfileDirectory::open(file, 0);
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().message, "--dir: '" + file + "': not a directory");
}

TEST(AgentFiles, ServiceNamesAreFileNames) {
  EXPECT_EQ(file_safe("orders-v2.1"), "orders-v2.1");
  EXPECT_EQ(file_safe("a/b c"), "a_b_c");
  EXPECT_EQ(file_safe(".."), "_");
  EXPECT_EQ(file_safe(""), "_");
}

TEST(AgentLabels, AServiceIsItsExecutableUnlessTheFirstMatchingRuleNamesIt) {
  auto by_unit = parse_service_rule("cgroup:*/orders.service=orders");
  auto by_exe = parse_service_rule("exe:billing-*=billing");
  ASSERT_TRUE(by_unit && by_exe);
  SeriesLabeler labeler({*by_unit, *by_exe}, {{"env", "prod"}}, "host-1");
  ProcessFacts process{42, "server", "/srv/server", "/system.slice/orders.service", "go1.26.8"};
  EXPECT_EQ(labeler.service_of(process), "orders");
  EXPECT_EQ(labeler.labels_of(process),
            (Labels{{"service_name", "orders"}, {"pid", "42"}, {"hostname", "host-1"},
                    {"container", "/system.slice/orders.service"}, {"go_version", "go1.26.8"}, {"env", "prod"}}));
  EXPECT_EQ(labeler.service_of({7, "billing-7", "/b", "", ""}), "billing");
  EXPECT_EQ(labeler.labels_of({8, "cron", "/c", "", ""}).size(), 4u);  // no container, no Go version
  EXPECT_EQ(labeler.service_of({8, "cron", "/c", "", ""}), "cron");
}

TEST(AgentLabels, BadRulesAndLabelsSayWhatIsWrong) {
  EXPECT_EQ(parse_service_rule("orders").error().message,
            "--service-name 'orders': not a rule: give exe:GLOB=NAME, path:GLOB=NAME or cgroup:GLOB=NAME");
  EXPECT_EQ(parse_service_rule("pid:1=x").error().message,
            "--service-name 'pid:1=x': 'pid' is not what a rule matches: exe, path or cgroup");
  EXPECT_FALSE(parse_service_rule("exe:=x"));
  EXPECT_EQ(parse_static_label("env").error().message, "--label 'env': not KEY=VALUE");
  EXPECT_EQ(parse_static_label("pid=1").error().message, "--label 'pid=1': 'pid' is a label the agent sets itself");
  EXPECT_FALSE(parse_static_label("__name__=x"));
  EXPECT_FALSE(parse_static_label("1x=y"));
  EXPECT_FALSE(parse_static_label("x="));
  auto good = parse_static_label("region=eu-west=1");
  ASSERT_TRUE(good);
  EXPECT_EQ(good->second, "eu-west=1");
}

}  // namespace
}  // namespace gotrace
