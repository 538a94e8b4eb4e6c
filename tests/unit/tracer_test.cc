// The tracer end to end: real BPF probes on real Go programs of every
// toolchain in the fixture matrix, the outputs read back by Go's own tools.
//
// These need root (or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN). CI runs as
// root; a developer run without them skips with the reason printed.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "symbolizer/go_binary.h"
#include "tests/unit/test_support.h"
#include "userspace/probe/alloc_probe.h"

namespace gotrace {
namespace {

using testing::ChildProcess;
using testing::CommandResult;
using testing::FixtureBuild;
using testing::fixture_builds;
using testing::gotrace_binary;
using testing::local_build;
using testing::run_command;

std::string scratch_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("gotrace-tracer-" + std::to_string(getpid()) + "-" + name)).string();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Allocation figures by the leaf function and line of each sample, read back
// from a profile by `go tool pprof -raw`.
struct PprofSites {
  std::map<std::pair<std::string, int64_t>, std::pair<int64_t, int64_t>> by_site;  // → (objects, bytes)
  std::map<std::string, std::pair<int64_t, int64_t>> by_function;
  std::map<std::string, std::map<std::string, int64_t>> types_by_function;  // → type → objects
  std::string raw;
};

PprofSites read_pprof(const std::string& path) {
  PprofSites sites;
  auto result = run_command({"go", "tool", "pprof", "-raw", path});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  sites.raw = result.out;
  std::istringstream in(result.out);
  std::string line;
  enum { kHeader, kSamples, kLocations, kOther } section = kHeader;
  struct RawSample { int64_t objects, bytes; uint64_t leaf; std::string type; };
  std::vector<RawSample> samples;
  std::map<uint64_t, std::pair<std::string, int64_t>> leaf_of_location;
  while (std::getline(in, line)) {
    if (line == "Samples:") { section = kSamples; continue; }
    if (line == "Locations") { section = kLocations; continue; }
    if (line == "Mappings") { section = kOther; continue; }
    if (section == kSamples) {
      size_t colon = line.find(':');
      if (line.find("type:[") != std::string::npos && !samples.empty()) {
        size_t start = line.find("type:[") + 6;
        samples.back().type = line.substr(start, line.rfind(']') - start);
        continue;
      }
      if (colon == std::string::npos) continue;
      std::istringstream values(line.substr(0, colon)), ids(line.substr(colon + 1));
      RawSample sample{};
      if (!(values >> sample.objects >> sample.bytes) || !(ids >> sample.leaf)) continue;
      samples.push_back(sample);
    } else if (section == kLocations) {
      // "    12: 0x4a1b2c M=1 main.f /src/main.go:12:0 s=10"; inlined callers follow, indented.
      size_t colon = line.find(':');
      size_t mapping = line.find(" M=");
      if (colon == std::string::npos || mapping == std::string::npos || line.find_first_not_of(' ') >= colon) continue;
      uint64_t id = std::stoull(line.substr(0, colon));
      std::string rest = line.substr(line.find(' ', mapping + 1) + 1);
      std::string body = rest.substr(0, rest.rfind(" s="));
      size_t split = body.rfind(' ');
      std::string function = body.substr(0, split);
      std::string position = body.substr(split + 1);  // file:line:column
      size_t last = position.rfind(':'), before = position.rfind(':', last - 1);
      int64_t line_number = std::stoll(position.substr(before + 1, last - before - 1));
      leaf_of_location[id] = {function, line_number};
    }
  }
  for (const RawSample& sample : samples) {
    auto leaf = leaf_of_location[sample.leaf];
    auto& site = sites.by_site[leaf];
    site.first += sample.objects;
    site.second += sample.bytes;
    auto& function = sites.by_function[leaf.first];
    function.first += sample.objects;
    function.second += sample.bytes;
    sites.types_by_function[leaf.first][sample.type] += sample.objects;
  }
  return sites;
}

// What the allocs fixture printed about itself.
struct FixtureTruth {
  struct Expected { int64_t count = 0; int64_t size = 0; bool tiny = false; };
  std::map<std::string, Expected> expected;  // by function, summed over instantiations
  std::map<std::pair<std::string, int64_t>, std::pair<int64_t, int64_t>> runtime_sites;  // (function, line) → (objects, bytes)
  std::map<std::string, std::set<std::string>> types;  // by function: reflect names of the types allocated there
};

FixtureTruth parse_truth(const std::string& output) {
  FixtureTruth truth;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::string kind = line.substr(0, line.find(' '));
    std::istringstream rest(line.substr(kind.size() + 1));
    for (std::string field; std::getline(rest, field, '\t');) fields.push_back(field);
    if (kind == "expect" && fields.size() == 4) {
      auto& e = truth.expected[fields[0]];
      e.count += std::stoll(fields[1]);
      e.size = std::stoll(fields[2]);
      e.tiny = fields[3] == "1";
    } else if (kind == "type" && !fields.empty()) {
      // gotrace labels memory allocated without a type "raw memory".
      truth.types[fields[0]].insert(fields.size() > 1 && !fields[1].empty() ? fields[1] : "raw memory");
    } else if (kind == "runtime" && fields.size() == 5) {
      truth.runtime_sites[{fields[0], std::stoll(fields[2])}] = {std::stoll(fields[3]), std::stoll(fields[4])};
    }
  }
  return truth;
}

TEST(Tracer, RunCountsEverySiteExactlyOnEveryToolchain) {
  REQUIRE_BPF_PRIVILEGES();
  std::string pprof_path = scratch_path("run.pb.gz"), folded_path = scratch_path("run.folded");
  for (const FixtureBuild& build : fixture_builds("allocs")) {
    SCOPED_TRACE(build.label());
    auto result = run_command({gotrace_binary(), "run", "-o", pprof_path, "--folded", folded_path, "--", build.path});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.err.find("gotrace: attached to pid "), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("(until it exited)"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("; 0 events lost"), std::string::npos) << result.err;

    FixtureTruth truth = parse_truth(result.out);
    ASSERT_GE(truth.expected.size(), 10u) << result.out;
    PprofSites got = read_pprof(pprof_path);
    for (const auto& [function, expected] : truth.expected) {
      SCOPED_TRACE(function);
      auto& [objects, bytes] = got.by_function[function];
      // Every allocation request is one object, the tiny allocator's included.
      EXPECT_EQ(objects, expected.count);
      if (expected.tiny) {
        EXPECT_EQ(bytes, expected.count * expected.size);
      }
    }
    if (::testing::Test::HasFailure()) {
      std::string sites;
      for (const auto& [function, figures] : got.by_function)
        if (figures.first >= 1000) sites += fmt::format("  {} {} {}\n", function, figures.first, figures.second);
      ADD_FAILURE() << "leaf functions in the profile:\n" << sites << "gotrace said:\n" << result.err;
    }
    // Bytes, and objects too, agree with the runtime's own exact profile at
    // every site the fixture made, except where the tiny allocator served it
    // (the runtime records one object per 16-byte block there).
    for (const auto& [site, runtime] : truth.runtime_sites) {
      auto expected = truth.expected.find(site.first);
      if (expected == truth.expected.end() || expected->second.tiny) continue;
      SCOPED_TRACE(fmt::format("{} line {}", site.first, site.second));
      EXPECT_EQ(got.by_site[site], runtime);
    }

    // The type of each site's allocations, as the fixture's own reflect names
    // it. Inside generic code the runtime is handed the instantiation's GC
    // shape (main.Box[go.shape.int] for main.Box[int]), so there only the
    // generic type's name is compared.
    for (const auto& [function, names] : truth.types) {
      SCOPED_TRACE(function);
      std::set<std::string> got_types;
      const auto& site_types = got.types_by_function[function];
      int64_t site_objects = 0;
      for (const auto& [type, objects] : site_types) site_objects += objects;
      for (const auto& [type, objects] : site_types)
        if (objects * 10 >= site_objects) got_types.insert(type);  // not the runtime's own odd allocation
      if (names.size() == 1 && names.begin()->find('[') == std::string::npos) {
        EXPECT_EQ(got_types, names);
      } else {
        std::set<std::string> generic_names;
        for (const std::string& name : names) generic_names.insert(name.substr(0, name.find('[')));
        std::set<std::string> got_generic;
        for (const std::string& name : got_types) got_generic.insert(name.substr(0, name.find('[')));
        EXPECT_EQ(got_generic, generic_names);
        EXPECT_EQ(got_types.size(), names.size());
      }
    }

    // The folded stacks: root first, the site's function last, counts summed.
    std::map<std::string, int64_t> folded_by_leaf;
    std::istringstream folded(read_file(folded_path));
    for (std::string line; std::getline(folded, line);) {
      size_t space = line.rfind(' ');
      std::string stack = line.substr(0, space);
      EXPECT_TRUE(stack.starts_with("runtime.") || stack.starts_with("[truncated];")) << "stacks start at the root: " << line;
      folded_by_leaf[stack.substr(stack.rfind(';') + 1)] += std::stoll(line.substr(space + 1));
    }
    for (const auto& [function, expected] : truth.expected)
      EXPECT_EQ(folded_by_leaf[function], expected.count) << function;
  }
  std::filesystem::remove(pprof_path);
  std::filesystem::remove(folded_path);
}

TEST(Tracer, AttachKeepsTheRatioBetweenTwoSites) {
  REQUIRE_BPF_PRIVILEGES();
  ChildProcess target({local_build("allocs", "plain"), "steady"});
  target.read_until("steady");
  std::string pprof_path = scratch_path("attach.pb.gz");
  auto result = run_command({gotrace_binary(), "attach", std::to_string(target.pid()), "-d", "2s", "-o", pprof_path});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find(fmt::format("gotrace: attached to pid {} (", target.pid())), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("1 allocation entry point probed; Ctrl-C to stop"), std::string::npos) << result.err;
  PprofSites got = read_pprof(pprof_path);
  double a = got.by_function["main.siteSteadyA"].first, b = got.by_function["main.siteSteadyB"].first;
  ASSERT_GT(b, 10000) << got.raw.substr(0, 2000);
  EXPECT_NEAR(a / b, 3.0, 0.03);
  // The type allocated most there (the runtime may allocate untyped memory
  // for itself inside a site, e.g. when a collection starts).
  auto top_type = [&](const std::string& function) {
    const auto& types = got.types_by_function[function];
    auto top = std::max_element(types.begin(), types.end(), [](auto& x, auto& y) { return x.second < y.second; });
    return top == types.end() ? std::string() : top->first;
  };
  EXPECT_EQ(top_type("main.siteSteadyA"), "main.Record");
  EXPECT_EQ(top_type("main.siteSteadyB"), "main.Pair");
  target.close_stdin();
  EXPECT_EQ(target.wait(), 0);
  std::filesystem::remove(pprof_path);
}

TEST(Tracer, AttachEndsWithTheTargetAndStillWrites) {
  REQUIRE_BPF_PRIVILEGES();
  ChildProcess target({local_build("allocs", "pie"), "steady"});
  target.read_until("steady");
  std::string folded_path = scratch_path("exit.folded");
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    target.close_stdin();
  });
  auto result = run_command({gotrace_binary(), "attach", std::to_string(target.pid()), "--folded", folded_path});
  stopper.join();
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("(until it exited)"), std::string::npos) << result.err;
  EXPECT_NE(read_file(folded_path).find(";main.siteSteadyA "), std::string::npos);
  EXPECT_EQ(target.wait(), 0);
  std::filesystem::remove(folded_path);
}

TEST(Tracer, HundredThousandDistinctStacksLoseNothing) {
  REQUIRE_BPF_PRIVILEGES();
  // 2^17 distinct call paths, one allocation each: aggregation happens in
  // userspace, so no kernel map can fill up.
  std::string folded_path = scratch_path("distinct.folded");
  auto result = run_command({gotrace_binary(), "run", "--folded", folded_path, "--", local_build("allocs", "plain"),
                             "distinct", "17"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("; 0 events lost"), std::string::npos) << result.err;
  int64_t stacks = 0, allocations = 0;
  std::istringstream folded(read_file(folded_path));
  for (std::string line; std::getline(folded, line);) {
    if (line.find(";main.leafOfPath ") == std::string::npos) continue;
    ++stacks;
    allocations += std::stoll(line.substr(line.rfind(' ') + 1));
  }
  EXPECT_EQ(stacks, 131072);
  EXPECT_EQ(allocations, 131072);
  std::filesystem::remove(folded_path);
}

TEST(Tracer, FoldedStacksCanEndWithTheType) {
  REQUIRE_BPF_PRIVILEGES();
  std::string folded_path = scratch_path("types.folded");
  auto result = run_command({gotrace_binary(), "run", "--folded", folded_path, "--folded-types", "--",
                             local_build("allocs", "plain"), "exit", "0"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(read_file(folded_path).find(";main.sitePlain;[main.Record] 100\n"), std::string::npos)
      << read_file(folded_path).substr(0, 3000);
  std::filesystem::remove(folded_path);
}

TEST(Tracer, SamplingEstimatesEverySiteWithinFivePercent) {
  REQUIRE_BPF_PRIVILEGES();
  // One allocation per 128 bytes on average is recorded (a 48-byte object
  // with probability 0.31); profiles hold estimates scaled as Go scales its
  // own heap profile. Every site with at least 1% of the bytes must come
  // within 5% of the runtime's own exact figure.
  std::string pprof_path = scratch_path("sampled.pb.gz");
  auto result = run_command({gotrace_binary(), "run", "--sample-rate", "128", "-o", pprof_path, "--",
                             local_build("allocs", "plain")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("gotrace: sampled one allocation per 128 B on average: "), std::string::npos) << result.err;
  FixtureTruth truth = parse_truth(result.out);
  PprofSites got = read_pprof(pprof_path);
  EXPECT_NE(got.raw.find("Period: 128\n"), std::string::npos);
  int64_t total = 0;
  for (const auto& [site, runtime] : truth.runtime_sites) total += runtime.second;
  int checked = 0;
  for (const auto& [site, runtime] : truth.runtime_sites) {
    if (runtime.second * 100 < total || !truth.expected.count(site.first)) continue;
    SCOPED_TRACE(site.first);
    EXPECT_NEAR(double(got.by_site[site].second), double(runtime.second), 0.05 * runtime.second);
    ++checked;
  }
  EXPECT_GE(checked, 5);
  std::filesystem::remove(pprof_path);
}

TEST(Tracer, RunExitsWithTheProgramsStatus) {
  REQUIRE_BPF_PRIVILEGES();
  auto result = run_command({gotrace_binary(), "run", "--", local_build("allocs", "stripped"), "exit", "3"});
  EXPECT_EQ(result.exit_code, 3) << result.err;
  // Without -o or --folded the call sites go to stderr: stdout is the program's.
  EXPECT_NE(result.err.find("main.sitePlain"), std::string::npos) << result.err;
}

TEST(Tracer, RunSendsTheProgramsOutputToAFile) {
  REQUIRE_BPF_PRIVILEGES();
  std::string output_path = scratch_path("program.out");
  // The fixture prints its report on stdout; gotrace's table goes to stderr.
  auto result = run_command({gotrace_binary(), "run", "--program-output", output_path, "--",
                             local_build("allocs", "plain")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "");
  EXPECT_NE(read_file(output_path).find("expect main.sitePlain\t"), std::string::npos);
  std::filesystem::remove(output_path);
}

TEST(Tracer, ProfileOpensInGoToolPprof) {
  REQUIRE_BPF_PRIVILEGES();
  std::string pprof_path = scratch_path("top.pb.gz");
  auto run = run_command({gotrace_binary(), "run", "-o", pprof_path, "--", local_build("allocs", "plain")});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto top = run_command({"go", "tool", "pprof", "-top", "-sample_index=alloc_space", pprof_path});
  EXPECT_EQ(top.exit_code, 0) << top.err;
  EXPECT_NE(top.out.find("main.siteLarge"), std::string::npos) << top.out;
  auto traces = run_command({"go", "tool", "pprof", "-traces", pprof_path});
  EXPECT_EQ(traces.exit_code, 0) << traces.err;
  EXPECT_NE(traces.out.find("main.mkPair (inline)"), std::string::npos);
  auto tags = run_command({"go", "tool", "pprof", "-tags", pprof_path});
  EXPECT_NE(tags.out.find("main.Record"), std::string::npos) << tags.out;
  auto list = run_command({"go", "tool", "pprof", "-list", "main.sitePlain", pprof_path});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  // The web UI, on a loopback port, serves the top table with the sites.
  std::string address = fmt::format("127.0.0.1:{}", 20000 + getpid() % 20000);
  ChildProcess web({"go", "tool", "pprof", "-no_browser", "-http=" + address, pprof_path});
  CommandResult page;
  for (int attempt = 0; attempt < 100; ++attempt) {
    page = run_command({"curl", "-sf", "http://" + address + "/ui/top"});
    if (page.exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(page.exit_code, 0) << "go tool pprof -http did not serve the profile";
  EXPECT_NE(page.out.find("main.siteLarge"), std::string::npos);
  std::filesystem::remove(pprof_path);
}

// ---- bad input: one line, a clear cause, and nothing attached ----------------

void expect_error(const CommandResult& result, int exit_code, const std::string& message) {
  EXPECT_EQ(result.exit_code, exit_code) << result.err;
  EXPECT_EQ(result.err, "gotrace: error: " + message + "\n");
}

CommandResult gotrace(std::vector<std::string> args) {
  args.insert(args.begin(), gotrace_binary());
  return run_command(args);
}

TEST(TracerBadInput, NoSuchProcess) {
  REQUIRE_BPF_PRIVILEGES();
  expect_error(gotrace({"attach", "999999999"}), 1, "pid 999999999: no such process");
}

TEST(TracerBadInput, KernelThread) {
  REQUIRE_BPF_PRIVILEGES();
  expect_error(gotrace({"attach", "2"}), 1, "pid 2: has no executable (a kernel thread, or exiting)");
}

TEST(TracerBadInput, NotAGoProgram) {
  REQUIRE_BPF_PRIVILEGES();
  ChildProcess shell({"/bin/sh", "-c", "read line"});
  auto result = gotrace({"attach", std::to_string(shell.pid())});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(result.err.starts_with("gotrace: error: '/")) << result.err;
  EXPECT_TRUE(result.err.ends_with("': not a Go binary (no pclntab or Go build information found)\n")) << result.err;
}

// An executable copy of the plain allocs build of `version` in which every
// occurrence of the version string (build info included) says `claimed`.
std::string build_claiming_version(const std::string& version, const std::string& claimed) {
  std::string path;
  for (const auto& build : fixture_builds("allocs"))
    if (build.go_version == version && build.variant == "plain") path = build.path;
  if (path.empty() || claimed.size() != version.size()) {
    ADD_FAILURE() << "no plain allocs build of " << version;
    return "";
  }
  std::string bytes = read_file(path);
  for (size_t at = bytes.find(version); at != std::string::npos; at = bytes.find(version, at))
    bytes.replace(at, version.size(), claimed);
  std::string copy = scratch_path(claimed);
  std::ofstream(copy, std::ios::binary) << bytes;
  std::filesystem::permissions(copy, std::filesystem::perms::owner_all);
  return copy;
}

TEST(TracerBadInput, GoReleaseTooOld) {
  REQUIRE_BPF_PRIVILEGES();
  std::string old = build_claiming_version("go1.19.8", "go1.16.8");
  ASSERT_FALSE(old.empty());
  expect_error(gotrace({"run", "--", old}), 1,
               "'" + old + "': built by go1.16.8; tracing needs Go 1.17 or later (the register ABI)");
  std::filesystem::remove(old);
}

TEST(TracerBadInput, GoReleaseNewerThanVerifiedNeedsOptIn) {
  REQUIRE_BPF_PRIVILEGES();
  std::string future = build_claiming_version("go1.27.4", "go1.28.4");
  ASSERT_FALSE(future.empty());
  expect_error(gotrace({"run", "--", future, "exit", "0"}), 1,
               "'" + future + "': built by go1.28.4, newer than go1.27, the newest release gotrace is verified on; its "
               "allocator may have entry points gotrace would miss (--allow-unverified-go traces it anyway)");
  auto opted_in = gotrace({"run", "--allow-unverified-go", "--", future, "exit", "0"});
  EXPECT_EQ(opted_in.exit_code, 0) << opted_in.err;
  std::filesystem::remove(future);
}

TEST(TracerBadInput, UnwritableOutput) {
  REQUIRE_BPF_PRIVILEGES();
  expect_error(gotrace({"attach", "1", "-o", "/nonexistent/dir/out.pb.gz"}), 1,
               "'/nonexistent/dir/out.pb.gz': cannot write: No such file or directory");
  expect_error(gotrace({"run", "--folded", "/tmp", "--", "true"}), 1, "'/tmp': is a directory");
}

TEST(TracerBadInput, MalformedDuration) {
  expect_error(gotrace({"attach", "1", "-d", "10x"}), 2, "'10x': not a duration (use e.g. 30s, 2m, 1h30m, 500ms)");
  expect_error(gotrace({"attach", "1", "-d", "-5s"}), 2, "'-5s': not a duration (use e.g. 30s, 2m, 1h30m, 500ms)");
}

TEST(TracerBadInput, LiveViewWithoutATerminal) {
  // Refused before anything else is checked: this needs no privileges.
  expect_error(gotrace({"run", "--tui", "--", "true"}), 1,
               "--tui: the live view needs a terminal on stdin and stdout");
}

TEST(TracerBadInput, CommandNotFound) {
  REQUIRE_BPF_PRIVILEGES();
  expect_error(gotrace({"run", "--", "/nonexistent/server"}), 1, "'/nonexistent/server': No such file or directory");
  expect_error(gotrace({"run", "--", "no-such-command-anywhere"}), 1, "'no-such-command-anywhere': command not found");
}

TEST(TracerBadInput, WithoutPrivileges) {
  if (geteuid() != 0) GTEST_SKIP() << "dropping privileges needs root";
  // setpriv (util-linux) runs gotrace as nobody, with no capabilities.
  auto result = run_command({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                             gotrace_binary(), "attach", "1"});
  expect_error(result, 1,
               "loading the BPF probe needs root, or CAP_BPF with CAP_PERFMON and CAP_SYS_ADMIN "
               "(missing: CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN)");
}

}  // namespace
}  // namespace gotrace
