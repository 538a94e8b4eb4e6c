// gotrace attach --all and --cgroup: every Go process of the host, or of one
// cgroup, those running and those that start while tracing, each labelled
// with its own pid; and nothing else touched: a program that is not Go, and
// under --cgroup a Go service outside it, run on as if gotrace were not
// there, with no sample, no line in the summary and no note.
//
// The services are the allocs fixture's steady mode, built by several Go
// releases, which allocates until its stdin closes and then exits 0: that
// every one exits 0 at the end says tracing did not harm it.
//
// These need root (or CAP_SYS_ADMIN). CI runs as root; a developer run
// without them skips with the reason printed.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/pprof_raw.h"
#include "tests/support/background_gotrace.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/scratch_file.h"
#include "userspace/process/process_scope.h"

namespace gotrace {
namespace {

using namespace testing;

// Plain allocs builds of distinct Go releases, the machine's own first.
std::vector<std::string> allocs_of_releases(size_t count) {
  std::vector<std::string> paths = {local_build("allocs", "plain")};
  std::set<std::string> releases;
  for (const FixtureBuild& build : fixture_builds("allocs"))
    if (build.variant == "plain" && releases.insert(build.go_version).second && paths.size() < count &&
        build.path != paths.front())
      paths.push_back(build.path);
  EXPECT_EQ(paths.size(), count) << "allocs is not built by enough releases";
  return paths;
}

// A steady allocs service, ready (it said so) when this returns.
std::unique_ptr<ChildProcess> start_service(const std::vector<std::string>& argv) {
  auto service = std::make_unique<ChildProcess>(argv);
  service->read_until("steady");
  return service;
}

// What one trace's profile and summary say of each process: its samples'
// objects by pid, the process label of each pid, and the container label.
struct Traced {
  std::map<std::string, int64_t> objects;
  std::map<std::string, std::string> process, container;
};

Traced read_traced(const std::string& profile) {
  Traced traced;
  for (const LabelledSample& sample : read_pprof_labels(profile)) {
    auto pid = sample.labels.find("pid"), process = sample.labels.find("process");
    if (pid == sample.labels.end() || process == sample.labels.end()) {
      ADD_FAILURE() << "a sample without a pid or process label";
      continue;
    }
    traced.objects[pid->second] += sample.totals.objects;
    traced.process[pid->second] = process->second;
    auto container = sample.labels.find("container");
    traced.container[pid->second] = container == sample.labels.end() ? "" : container->second;
  }
  return traced;
}

// A service traced by `gotrace`: samples labelled with its pid and the name
// allocs, and a line of its own in the summary.
void expect_traced(const Traced& traced, const std::string& err, pid_t pid, const std::string& what) {
  std::string key = std::to_string(pid);
  auto objects = traced.objects.find(key);
  EXPECT_TRUE(objects != traced.objects.end() && objects->second > 0) << what << " pid " << pid << " has no samples";
  auto process = traced.process.find(key);
  EXPECT_EQ(process == traced.process.end() ? "" : process->second, "allocs") << what << " pid " << pid;
  // A line of its own among several, or the summary's first when it was all the trace found.
  bool summarized = err.find(fmt::format("gotrace:   pid {} (allocs): ", pid)) != std::string::npos ||
                    err.find(fmt::format("gotrace: traced pid {} for ", pid)) != std::string::npos;
  EXPECT_TRUE(summarized) << what << " pid " << pid << " has no line in the summary:\n" << err;
}

// A process the trace must not have touched: no samples, no summary line,
// no note; it still runs, and ends as it would have (exit 0 at stdin's EOF).
void expect_untouched(const Traced& traced, const std::string& err, ChildProcess& process, const std::string& what) {
  EXPECT_EQ(traced.objects.count(std::to_string(process.pid())), 0u) << what << " was traced";
  EXPECT_EQ(err.find(fmt::format("pid {} (", process.pid())), std::string::npos) << what << " was named:\n" << err;
  process.close_stdin();
  EXPECT_EQ(process.wait(), 0) << what;
}

// Every service exits 0 once its stdin closes: tracing did not harm it.
void end_services(std::vector<std::unique_ptr<ChildProcess>>& services) {
  for (auto& service : services) {
    service->close_stdin();
    EXPECT_EQ(service->wait(), 0) << "service pid " << service->pid();
  }
}

TEST(AttachScope, AllTracesEveryGoServiceAndOneStartedWhileTracingAndLeavesTheRestAlone) {
  REQUIRE_BPF_PRIVILEGES();
  std::vector<std::string> allocs = allocs_of_releases(4);
  if (allocs.size() < 4) return;
  std::vector<std::unique_ptr<ChildProcess>> services;
  for (size_t i = 0; i < 3; ++i) services.push_back(start_service({allocs[i], "steady"}));
  ChildProcess other({"/bin/cat"});  // not Go
  ScratchFile pprof("all.pb.gz");
  BackgroundGotrace gotrace({"attach", "--all", "--exact", "-d", "6s", "--no-tui", "-o", pprof.path()});
  ASSERT_TRUE(gotrace.wait_attached()) << gotrace.err();
  // Started once the trace runs: found by its exec, of a release not planned yet.
  services.push_back(start_service({allocs[3], "steady"}));
  EXPECT_EQ(gotrace.wait(), 0) << gotrace.err();
  std::string err = gotrace.err();
  EXPECT_NE(err.find("Go processes traced on the host; each Go program that starts on the host is traced"),
            std::string::npos)
      << err;
  Traced traced = read_traced(pprof.path());
  for (size_t i = 0; i < services.size(); ++i)
    expect_traced(traced, err, services[i]->pid(), i < 3 ? "service " + allocs[i] : "the service started later");
  expect_untouched(traced, err, other, "cat, not a Go program");
  end_services(services);
}

// A cgroup of the test's own, removed at the end (its processes gone).
class ScratchCgroup {
 public:
  ScratchCgroup() {
    auto root = find_cgroup("/");
    EXPECT_TRUE(bool(root)) << (root ? "" : root.error().message);
    if (!root) return;
    name_ = fmt::format("gotrace-test-{}", getpid());
    directory_ = root->directory + "/" + name_;
    EXPECT_EQ(mkdir(directory_.c_str(), 0755), 0) << directory_ << ": " << std::strerror(errno);
  }
  ~ScratchCgroup() {
    // Emptied by the exits of its processes, which the kernel notes a moment later.
    for (int i = 0; i < 50 && rmdir(directory_.c_str()) != 0 && errno == EBUSY; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const std::string& name() const { return name_; }
  std::string procs() const { return directory_ + "/cgroup.procs"; }
  void move_in(pid_t pid) const {
    std::ofstream out(procs());
    out << pid << "\n";
    out.flush();
    EXPECT_TRUE(out.good()) << "cannot move pid " << pid << " into " << directory_;
  }

 private:
  std::string name_, directory_;
};

TEST(AttachScope, CgroupTracesItsGoProcessesAloneAndOneThatStartsInIt) {
  REQUIRE_BPF_PRIVILEGES();
  std::vector<std::string> allocs = allocs_of_releases(2);
  if (allocs.size() < 2) return;
  ScratchCgroup cgroup;
  std::vector<std::unique_ptr<ChildProcess>> inside;
  for (const std::string& path : allocs) {
    inside.push_back(start_service({path, "steady"}));
    cgroup.move_in(inside.back()->pid());
  }
  ChildProcess other({"/bin/cat"});  // in the cgroup, not Go
  cgroup.move_in(other.pid());
  auto outside = start_service({allocs[0], "steady"});  // Go, of the same binary, outside
  ScratchFile pprof("cgroup.pb.gz");
  BackgroundGotrace gotrace({"attach", "--cgroup", cgroup.name(), "--exact", "-d", "6s", "--no-tui", "-o",
                             pprof.path()});
  ASSERT_TRUE(gotrace.wait_attached()) << gotrace.err();
  // A process that joins the cgroup and then execs a Go program.
  inside.push_back(start_service(
      {"/bin/sh", "-c", "echo $$ >\"$0\" && exec \"$1\" steady", cgroup.procs(), allocs[1]}));
  EXPECT_EQ(gotrace.wait(), 0) << gotrace.err();
  std::string err = gotrace.err();
  EXPECT_NE(err.find(fmt::format("Go processes traced in cgroup /{}; each Go program that starts in cgroup /{} is "
                                 "traced",
                                 cgroup.name(), cgroup.name())),
            std::string::npos)
      << err;
  Traced traced = read_traced(pprof.path());
  for (const auto& service : inside) {
    expect_traced(traced, err, service->pid(), "a service in the cgroup");
    auto container = traced.container.find(std::to_string(service->pid()));
    EXPECT_EQ(container == traced.container.end() ? "" : container->second, "/" + cgroup.name());
  }
  // Exactly those: the service outside, of the same binary, never trapped.
  EXPECT_EQ(traced.objects.size(), inside.size());
  expect_untouched(traced, err, *outside, "the Go service outside the cgroup");
  expect_untouched(traced, err, other, "cat in the cgroup, not a Go program");
  end_services(inside);
}

// A container's program is a file of its own mount namespace: here one on a
// tmpfs mounted in a namespace of its own, over a directory that is empty
// in gotrace's. It is read through /proc/PID/exe, and symbolized.
TEST(AttachScope, AProgramOfAnotherMountNamespaceIsReadFromItsOwnFile) {
  REQUIRE_BPF_PRIVILEGES();
  ScratchDirectory where("mount-namespace");
  std::vector<std::unique_ptr<ChildProcess>> services;
  services.push_back(start_service({"unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                                    "mount -t tmpfs none \"$0\" && cp \"$1\" \"$0/allocs\" && exec \"$0/allocs\" steady",
                                    where.path(), local_build("allocs", "plain")}));
  ASSERT_FALSE(std::filesystem::exists(where.path() + "/allocs")) << "the namespace's file is seen from outside";
  ScratchFile pprof("namespace.pb.gz");
  auto result = run_gotrace({"attach", "--all", "--exact", "-d", "2s", "--no-tui", "-o", pprof.path()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  pid_t pid = services.front()->pid();
  EXPECT_NE(result.err.find(fmt::format("gotrace: attached to pid {} ({}/allocs, ", pid, where.path())),
            std::string::npos)
      << result.err;
  expect_traced(read_traced(pprof.path()), result.err, pid, "the program of another mount namespace");
  PprofSites sites = read_pprof_sites(pprof.path(), {{"pid", std::to_string(pid)}});
  EXPECT_GT(sites.by_function["main.siteSteadyA"].objects, 0) << sites.raw.substr(0, 2000);
  end_services(services);
}

TEST(AttachScope, AnUnknownCgroupIsRefusedNamingIt) {
  REQUIRE_BPF_PRIVILEGES();
  auto result = run_gotrace({"attach", "--cgroup", "no-such-cgroup-here"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(result.err.starts_with("gotrace: error: cgroup 'no-such-cgroup-here': ")) << result.err;
  EXPECT_TRUE(result.err.ends_with(": No such file or directory\n")) << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

}  // namespace
}  // namespace gotrace
