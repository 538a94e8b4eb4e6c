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
#include <iostream>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
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

// A function name with the type arguments of generic functions and types
// collapsed to "[...]", as runtime.CallersFrames prints them from Go 1.21 on:
// "main.F[go.shape.int]" and "main.F[go.shape.string_0]" are both
// "main.F[...]". The allocs fixture names its sites the way its runtime
// prints them; this compares them with gotrace's names whichever form each
// uses (both instantiations of a generic site are then counted together).
std::string collapse_type_arguments(const std::string& name) {
  std::string out;
  int depth = 0;
  for (char c : name) {
    if (c == '[') {
      if (depth++ == 0) out += "[...";
    } else if (c == ']' && depth > 0) {
      if (--depth == 0) out += ']';
    } else if (depth == 0) {
      out += c;
    }
  }
  return out;
}

// The minor release of a fixture build's toolchain: 19 for "go1.19.8".
int go_minor(const std::string& go_version) {
  int major = 0, minor = 0;
  if (std::sscanf(go_version.c_str(), "go%d.%d", &major, &minor) != 2 || major != 1) {
    ADD_FAILURE() << "unexpected Go version " << go_version;
    return 0;
  }
  return minor;
}

// Allocation figures by the leaf function and line of each sample, read back
// from a profile by `go tool pprof -raw`. Function names have their type
// arguments collapsed (collapse_type_arguments).
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
      leaf_of_location[id] = {collapse_type_arguments(function), line_number};
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
  int64_t collections = -1;  // during the workload
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
    if (!fields.empty()) fields[0] = collapse_type_arguments(fields[0]);
    if (kind == "expect" && fields.size() == 4) {
      auto& e = truth.expected[fields[0]];
      e.count += std::stoll(fields[1]);
      e.size = std::stoll(fields[2]);
      e.tiny = fields[3] == "1";
    } else if (kind == "type" && !fields.empty()) {
      // gotrace labels memory allocated without a type "raw memory".
      truth.types[fields[0]].insert(fields.size() > 1 && !fields[1].empty() ? fields[1] : "raw memory");
    } else if (kind == "collections" && fields.size() == 1) {
      truth.collections = std::stoll(fields[0]);
    } else if (kind == "runtime" && fields.size() == 5) {
      // Before Go 1.21 the two instantiations of a generic site are two lines.
      auto& site = truth.runtime_sites[{fields[0], std::stoll(fields[2])}];
      site.first += std::stoll(fields[3]);
      site.second += std::stoll(fields[4]);
    }
  }
  return truth;
}

// Whether `got` is within max(3, 0.1%) of `want`: where the runtime may
// allocate for itself inside a site, or a stack may be seen a few more times
// than the runtime's profile had published.
bool nearly_equal(int64_t got, int64_t want) {
  int64_t tolerance = std::max<int64_t>(3, want / 1000);
  return got >= want - tolerance && got <= want + tolerance;
}

// What gotrace's summary says when the probe cut a stack short.
bool reports_truncated_stacks(const std::string& gotrace_stderr) {
  return gotrace_stderr.find("cut at the root end") != std::string::npos;
}

TEST(Tracer, RunCountsEverySiteExactlyOnEveryToolchain) {
  REQUIRE_BPF_PRIVILEGES();
  std::string pprof_path = scratch_path("run.pb.gz"), folded_path = scratch_path("run.folded");
  // Every build runs twice: with the collector off during the workload, where
  // every site's figures are exact; and with it on and GOGC=5, so that
  // collections start inside the sites. The runtime then allocates for itself
  // there: mark workers, with runtime.malg under runtime.systemstack, which
  // its own profile keeps under a runtime.systemstack root and not under the
  // user's site; and now and then something on the goroutine's own stack
  // (a sudog, say), which both profiles put at the site.
  for (const FixtureBuild& build : fixture_builds("allocs")) {
    for (bool collecting : {false, true}) {
      SCOPED_TRACE(build.label() + (collecting ? " (allocs gc, GOGC=5)" : " (allocs, collector off)"));
      std::vector<std::string> argv = {gotrace_binary(), "run", "-o", pprof_path, "--folded", folded_path, "--", build.path};
      if (collecting) {
        argv.insert(argv.begin(), {"env", "GOGC=5"});
        argv.push_back("gc");
      }
      auto result = run_command(argv);
      ASSERT_EQ(result.exit_code, 0) << result.err;
      EXPECT_NE(result.err.find("gotrace: attached to pid "), std::string::npos) << result.err;
      EXPECT_NE(result.err.find("(until it exited)"), std::string::npos) << result.err;
      EXPECT_NE(result.err.find("; 0 events lost"), std::string::npos) << result.err;
      EXPECT_FALSE(reports_truncated_stacks(result.err)) << result.err;

      FixtureTruth truth = parse_truth(result.out);
      ASSERT_GE(truth.expected.size(), 10u) << result.out;
      if (collecting) {
        EXPECT_GE(truth.collections, 10) << "too few collections during the workload to start inside the sites";
      } else {
        EXPECT_EQ(truth.collections, 0);
      }
      PprofSites got = read_pprof(pprof_path);
      for (const auto& [function, expected] : truth.expected) {
        SCOPED_TRACE(function);
        auto& [objects, bytes] = got.by_function[function];
        // Every allocation request is one object, the tiny allocator's included.
        if (!collecting) {
          EXPECT_EQ(objects, expected.count);
          if (expected.tiny) {
            EXPECT_EQ(bytes, expected.count * expected.size);
          }
        } else {
          EXPECT_PRED2(nearly_equal, objects, expected.count);
          if (expected.tiny) {
            EXPECT_GE(bytes, expected.count * expected.size);
          }
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
      // (the runtime records one object per 16-byte block there). With the
      // collector on, within max(3, 0.1%), and not the bytes of the string
      // site.
      int sites_compared = 0;
      int64_t largest_difference = 0;
      for (const auto& [site, runtime] : truth.runtime_sites) {
        auto expected = truth.expected.find(site.first);
        if (expected == truth.expected.end() || expected->second.tiny) continue;
        SCOPED_TRACE(fmt::format("{} line {}", site.first, site.second));
        ++sites_compared;
        largest_difference = std::max(largest_difference, std::abs(got.by_site[site].first - runtime.first));
        if (!collecting) {
          EXPECT_EQ(got.by_site[site], runtime);
        } else {
          EXPECT_PRED2(nearly_equal, got.by_site[site].first, runtime.first);
          if (site.first != "main.siteConcat") {
            EXPECT_PRED2(nearly_equal, got.by_site[site].second, runtime.second);
          }
        }
      }

      std::cout << fmt::format("{:<50} {:<16} {} sites against the runtime's profile, alloc_objects off by {} at most\n",
                               build.label(), collecting ? "GOGC=5" : "collector off", sites_compared,
                               largest_difference);

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

      // The folded stacks: root first, the site's function last, counts
      // summed. As in Go's own profiles there is no runtime.goexit root: a
      // stack of the main goroutine starts at runtime.main, one of a goroutine
      // the fixture started at that goroutine's own function.
      std::map<std::string, int64_t> folded_by_leaf;
      std::vector<std::string> misshapen;  // "why: line"
      std::istringstream folded(read_file(folded_path));
      for (std::string line; std::getline(folded, line);) {
        size_t space = line.rfind(' ');
        ASSERT_NE(space, std::string::npos) << line;
        std::string stack = line.substr(0, space);
        std::string root = stack.substr(0, stack.find(';'));
        std::string leaf = collapse_type_arguments(stack.substr(stack.rfind(';') + 1));
        const char* why = nullptr;
        if (root.empty() || leaf.empty() || stack.find(";;") != std::string::npos) why = "an empty frame";
        else if (root == "[truncated]") why = "cut short";
        else if (root == "runtime.goexit") why = "a runtime.goexit root, which Go's own profiles leave out";
        else if (truth.expected.count(leaf) && root != "runtime.main" && !root.starts_with("main."))
          why = "a site's stack that does not start at runtime.main or a goroutine of the fixture";
        if (why != nullptr) misshapen.push_back(fmt::format("{}: {}", why, line.substr(0, 300)));
        folded_by_leaf[leaf] += std::stoll(line.substr(space + 1));
      }
      if (!misshapen.empty()) {
        std::string text;
        for (size_t i = 0; i < misshapen.size() && i < 10; ++i) text += "  " + misshapen[i] + "\n";
        ADD_FAILURE() << misshapen.size() << " folded stacks are misshapen, e.g.:\n" << text;
      }
      for (const auto& [function, expected] : truth.expected) {
        if (!collecting) {
          EXPECT_EQ(folded_by_leaf[function], expected.count) << function;
        } else {
          EXPECT_PRED2(nearly_equal, folded_by_leaf[function], expected.count) << function;
        }
      }
    }
  }
  std::filesystem::remove(pprof_path);
  std::filesystem::remove(folded_path);
}

// ---- whole stacks against the runtime's own profile -----------------------------

// One frame of a stack: the function, as the profile names it (its system
// name when pprof prints one), and the line.
using StackFrame = std::pair<std::string, int64_t>;
using Stack = std::vector<StackFrame>;  // leaf first, inlined frames expanded
struct StackTotals {
  int64_t objects = 0, bytes = 0;
};

// One frame of a `go tool pprof -raw` location, "<name> <file>:<line>:<column>
// s=<start line>" with "(<system name>)" after it when that differs from the
// name: the system name, else the name, and the line. The name may hold
// spaces ("go.shape.interface {}"); the file is taken to hold none.
std::optional<StackFrame> parse_raw_frame(const std::string& body) {
  for (size_t at = body.find(" s="); at != std::string::npos; at = body.find(" s=", at + 1)) {
    size_t digits_end = body.find_first_not_of("0123456789", at + 3);
    if (digits_end == at + 3 || (digits_end != std::string::npos && body[digits_end] != '(')) continue;
    size_t column = body.rfind(':', at);
    size_t line_colon = column == std::string::npos || column == 0 ? std::string::npos : body.rfind(':', column - 1);
    size_t file_start = line_colon == std::string::npos ? std::string::npos : body.rfind(' ', line_colon);
    if (file_start == std::string::npos) continue;
    std::string name = body.substr(0, file_start);
    if (digits_end != std::string::npos && body.back() == ')')
      name = body.substr(digits_end + 1, body.size() - digits_end - 2);  // the system name
    return StackFrame{name, std::stoll(body.substr(line_colon + 1, column - line_colon - 1))};
  }
  return std::nullopt;
}

// Every sample of a profile by its whole stack, summed over samples with the
// same stack; samples with no allocations (the runtime's profile lists the
// call stacks it has seen since its last snapshot with zeros) are left out.
// Read from `go tool pprof -raw`, whose Locations section has one line per
// frame: "    12: 0x4a1b2c M=1 main.f /src/main.go:12:0 s=10", then the
// callers inlined there indented below it, each "<name> <file>:<line>:<column>
// s=<start line>", followed by "(<system name>)" when that differs.
std::map<Stack, StackTotals> read_pprof_stacks(const std::string& path) {
  std::map<Stack, StackTotals> stacks;
  auto result = run_command({"go", "tool", "pprof", "-raw", "-symbolize=none", path});
  EXPECT_EQ(result.exit_code, 0) << path << ": " << result.err;
  std::istringstream in(result.out);
  enum { kHeader, kSamples, kLocations, kOther } section = kHeader;
  std::vector<std::pair<StackTotals, std::vector<uint64_t>>> samples;
  std::map<uint64_t, Stack> frames_of_location;
  uint64_t location = 0;
  for (std::string line; std::getline(in, line);) {
    if (line == "Samples:") { section = kSamples; continue; }
    if (line == "Locations") { section = kLocations; continue; }
    if (line == "Mappings") { section = kOther; continue; }
    if (section == kSamples) {
      // "  v1 v2 ...: id id ..."; label lines ("bytes:[16]") do not start with numbers.
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::istringstream values(line.substr(0, colon)), ids(line.substr(colon + 1));
      StackTotals totals;
      if (!(values >> totals.objects >> totals.bytes)) continue;
      std::vector<uint64_t> locations;
      for (uint64_t id; ids >> id;) locations.push_back(id);
      samples.push_back({totals, std::move(locations)});
    } else if (section == kLocations) {
      std::string body;
      size_t first = line.find_first_not_of(' ');
      if (first == std::string::npos) continue;
      size_t colon = line.find(": 0x", first);
      if (colon != std::string::npos && line.find_first_not_of("0123456789", first) == colon) {
        location = std::stoull(line.substr(first, colon - first));
        frames_of_location[location];
        // Skip the address, the mapping and a folded mark.
        std::istringstream fields(line.substr(colon + 2));
        std::string field;
        size_t at = colon + 2;
        while (fields >> field && (field.starts_with("0x") || field.starts_with("M=") || field == "[F]"))
          at = line.find(field, at) + field.size();
        size_t body_start = line.find_first_not_of(' ', at);
        if (body_start == std::string::npos) continue;  // a location without lines
        body = line.substr(body_start);
      } else {
        body = line.substr(first);  // an inlined caller of the line above
      }
      auto frame = parse_raw_frame(body);
      EXPECT_TRUE(frame) << "unexpected pprof -raw location line: " << line;
      if (frame) frames_of_location[location].push_back(*frame);
    }
  }
  for (const auto& [totals, locations] : samples) {
    if (totals.objects == 0) continue;
    Stack stack;
    for (uint64_t id : locations) {
      auto frames = frames_of_location.find(id);
      EXPECT_NE(frames, frames_of_location.end()) << "no location " << id << " in " << path;
      if (frames != frames_of_location.end()) stack.insert(stack.end(), frames->second.begin(), frames->second.end());
    }
    auto& sum = stacks[stack];
    sum.objects += totals.objects;
    sum.bytes += totals.bytes;
  }
  return stacks;
}

bool has_frame(const Stack& stack, std::string_view function) {
  return std::any_of(stack.begin(), stack.end(), [&](const StackFrame& frame) { return frame.first == function; });
}

bool only_runtime_frames(const Stack& stack) {
  return std::all_of(stack.begin(), stack.end(),
                     [](const StackFrame& frame) { return frame.first.starts_with("runtime."); });
}

// "main.f:12 <- main.g:20 (x59) <- runtime.main:283", leaf first, runs of one
// frame counted.
std::string describe_stack(const Stack& stack) {
  std::string out;
  for (size_t i = 0; i < stack.size();) {
    size_t run = 1;
    while (i + run < stack.size() && stack[i + run] == stack[i]) ++run;
    if (!out.empty()) out += " <- ";
    out += fmt::format("{}:{}", stack[i].first, stack[i].second);
    if (run > 1) out += fmt::format(" (x{})", run);
    i += run;
  }
  return out.empty() ? "(empty stack)" : out;
}

TEST(Tracer, WholeStacksMatchTheRuntimesOwnProfileOnEveryToolchain) {
  REQUIRE_BPF_PRIVILEGES();
  // The service fixture handles requests the way Go services do (maps,
  // reflect calls, a goroutine per request, defers, generics, interface
  // wrappers, strings, JSON, deep recursion) and then writes the runtime's
  // own exact heap profile (MemProfileRate = 1). Every stack gotrace reports
  // must be the runtime's: the same frames, function names and lines, and
  // the same number of allocations.
  std::string gotrace_path = scratch_path("service-gotrace.pb.gz"), runtime_path = scratch_path("service-runtime.pb.gz");
  for (const FixtureBuild& build : fixture_builds("service")) {
    SCOPED_TRACE(build.label());
    const int minor = go_minor(build.go_version);
    // GODEBUG=memprofilerate=1 has the runtime record every allocation from
    // its start-up on, and not only from the fixture's own initializer.
    auto result = run_command({"env", "GODEBUG=memprofilerate=1", gotrace_binary(), "run", "-o", gotrace_path, "--",
                               build.path, runtime_path});
    ASSERT_EQ(result.exit_code, 0) << result.err << result.out;
    EXPECT_NE(result.err.find("; 0 events lost"), std::string::npos) << result.err;
    EXPECT_FALSE(reports_truncated_stacks(result.err)) << result.err;
    auto gotrace_stacks = read_pprof_stacks(gotrace_path);
    auto runtime_stacks = read_pprof_stacks(runtime_path);
    // From Go 1.26 the runtime's stack starts at runtime.mallocgc itself,
    // which a stack of runtime frames only keeps; gotrace has no frame for
    // it (README), so those are compared without it.
    if (minor >= 26) {
      std::map<Stack, StackTotals> without_mallocgc;
      for (const auto& [original, totals] : runtime_stacks) {
        Stack stack = original;
        if (only_runtime_frames(stack) && stack.size() > 1 && stack.front().first == "runtime.mallocgc")
          stack.erase(stack.begin());
        without_mallocgc[stack].objects += totals.objects;
        without_mallocgc[stack].bytes += totals.bytes;
      }
      runtime_stacks = std::move(without_mallocgc);
    }
    ASSERT_GT(runtime_stacks.size(), 50u);
    ASSERT_FALSE(gotrace_stacks.empty());

    // What the runtime's profile cannot hold, on both sides:
    //  - main.writeProfile: allocated after the profile's snapshot (the
    //    fixture collects twice first, which publishes everything before);
    //  - runtime.schedinit: the bootstrap, before the runtime reads GODEBUG
    //    and can record a stack;
    //  - before Go 1.21, package initialization (runtime.doInit): there the
    //    runtime's own package initializer sets MemProfileRate back to its
    //    default, overriding GODEBUG, until the fixture's initializer sets it
    //    to 1 again.
    // Before Go 1.21 the runtime also allocates for itself in that gap
    // (runtime.main's gcenable, the threads and goroutines it starts), with
    // stacks of runtime frames only that it also makes later: there such
    // stacks need only be in gotrace's profile, not match it.
    const bool init_unprofiled = minor < 21;
    auto excluded = [&](const Stack& stack) {
      return has_frame(stack, "main.writeProfile") || has_frame(stack, "runtime.schedinit") ||
             (init_unprofiled && (has_frame(stack, "runtime.doInit") || has_frame(stack, "runtime.doInit1")));
    };
    auto loosely_compared = [&](const Stack& stack) { return init_unprofiled && only_runtime_frames(stack); };

    // The runtime keeps at most 32 frames of a stack before Go 1.23 and 128
    // from then on, counting the allocator's frames it then hides; a stack
    // that long may be cut, and stands for every longer stack of gotrace's
    // whose leaf-most frames it is.
    const size_t runtime_depth = minor <= 22 ? 32 : 128;
    std::vector<const Stack*> maybe_cut;
    for (const auto& [stack, totals] : runtime_stacks)
      if (!excluded(stack) && stack.size() + 8 >= runtime_depth) maybe_cut.push_back(&stack);

    // Each gotrace stack goes to the runtime stack equal to it or, failing
    // that, to the longest possibly-cut runtime stack it starts with.
    std::map<Stack, StackTotals> matched;  // by the runtime's stack: gotrace's totals
    std::vector<std::pair<Stack, StackTotals>> only_gotrace;
    for (const auto& [stack, totals] : gotrace_stacks) {
      if (excluded(stack)) continue;
      const Stack* target = runtime_stacks.count(stack) ? &stack : nullptr;
      if (target == nullptr) {
        for (const Stack* cut : maybe_cut)
          if (cut->size() < stack.size() && std::equal(cut->begin(), cut->end(), stack.begin()) &&
              (target == nullptr || cut->size() > target->size()))
            target = cut;
      }
      if (target != nullptr) {
        auto& sum = matched[*target];
        sum.objects += totals.objects;
        sum.bytes += totals.bytes;
      } else if (totals.bytes >= 16 * totals.objects && !loosely_compared(stack) &&
                 !(only_runtime_frames(stack) && nearly_equal(totals.objects, 0))) {
        // The tiny allocator's stacks (pointer-free objects under 16 bytes)
        // may be missing: the runtime records only the allocations that open
        // a new 16-byte block. So may the runtime's own allocations after the
        // profile's snapshot (a thread started as the last collection ends,
        // or by sysmon): a stack of runtime frames only is let off when it is
        // as near to none as counts must be to each other.
        only_gotrace.push_back({stack, totals});
      }
    }

    struct Difference {
      int64_t weight;
      std::string text;
    };
    std::vector<Difference> differences;
    int64_t compared_objects = 0;
    for (const auto& [stack, runtime] : runtime_stacks) {
      if (excluded(stack)) continue;
      auto got = matched.find(stack);
      if (got == matched.end()) {
        // The runtime picks the leading frames to hide by the function at
        // each return address rather than at the call before it: a frame of
        // the runtime's timers outside package runtime (time.resetTimer)
        // whose return address lands in an inlined runtime function keeps the
        // runtime from hiding anything. Its timers allocate a handful of
        // times; such a stack, a runtime frame at its leaf, is let off when
        // as near to none as counts must be to each other.
        if (stack.front().first.starts_with("runtime.") && nearly_equal(runtime.objects, 0)) continue;
        differences.push_back({runtime.objects, fmt::format("only in the runtime's profile: {} objects, {} bytes: {}",
                                                            runtime.objects, runtime.bytes, describe_stack(stack))});
        continue;
      }
      // Counted per 16-byte block by the runtime where the tiny allocator
      // served the stack: only its presence is compared.
      if (got->second.bytes < 16 * got->second.objects || loosely_compared(stack)) continue;
      compared_objects += runtime.objects;
      if (!nearly_equal(got->second.objects, runtime.objects))
        differences.push_back({std::abs(got->second.objects - runtime.objects),
                               fmt::format("count differs: runtime {} objects, gotrace {}: {}", runtime.objects,
                                           got->second.objects, describe_stack(stack))});
    }
    for (const auto& [stack, totals] : only_gotrace)
      differences.push_back({totals.objects, fmt::format("only in gotrace's profile: {} objects, {} bytes: {}",
                                                         totals.objects, totals.bytes, describe_stack(stack))});
    // The workload itself was compared, not just its edges.
    EXPECT_GT(compared_objects, 100000);
    std::cout << fmt::format("{:<50} {} of the runtime's {} stacks found among gotrace's {}; {} allocations compared; {} "
                             "differences\n",
                             build.label(), matched.size(), runtime_stacks.size(), gotrace_stacks.size(),
                             compared_objects, differences.size());
    if (!differences.empty()) {
      std::stable_sort(differences.begin(), differences.end(),
                       [](const Difference& a, const Difference& b) { return a.weight > b.weight; });
      const size_t shown = std::min<size_t>(differences.size(), 40);
      std::string text;
      for (size_t i = 0; i < shown; ++i) text += "  " + differences[i].text + "\n";
      if (shown < differences.size()) text += fmt::format("  ... and {} more\n", differences.size() - shown);
      ADD_FAILURE() << differences.size() << " stacks differ between gotrace's profile (" << gotrace_stacks.size()
                    << " stacks) and the runtime's (" << runtime_stacks.size() << "), leaf first, heaviest first:\n"
                    << text;
    }
  }
  std::filesystem::remove(gotrace_path);
  std::filesystem::remove(runtime_path);
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
