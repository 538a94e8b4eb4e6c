// The tracer's stacks, whole, against the runtime's own exact heap profile
// of the same run of the service fixture, on every build of the matrix.
//
// These need root (or CAP_SYS_ADMIN). CI runs as
// root; a developer run without them skips with the reason printed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "tests/integration/pprof_raw.h"
#include "tests/integration/traced_run.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;

using Stacks = std::map<Stack, ObjectsAndBytes>;

// The minor release of a fixture build's toolchain: 19 for "go1.19.8".
int go_minor(const std::string& go_version) {
  int major = 0, minor = 0;
  if (std::sscanf(go_version.c_str(), "go%d.%d", &major, &minor) != 2 || major != 1) {
    ADD_FAILURE() << "unexpected Go version " << go_version;
    return 0;
  }
  return minor;
}

bool has_frame(const Stack& stack, std::string_view function) {
  return std::any_of(stack.begin(), stack.end(), [&](const StackFrame& frame) { return frame.first == function; });
}

bool only_runtime_frames(const Stack& stack) {
  return std::all_of(stack.begin(), stack.end(),
                     [](const StackFrame& frame) { return frame.first.starts_with("runtime."); });
}

void add(ObjectsAndBytes* sum, const ObjectsAndBytes& totals) {
  sum->objects += totals.objects;
  sum->bytes += totals.bytes;
}

// From Go 1.26 the runtime's stack starts at runtime.mallocgc itself, which
// a stack of runtime frames only keeps; gotrace has no frame for it
// (README), so those are compared without it.
Stacks without_leading_mallocgc(const Stacks& runtime_stacks) {
  Stacks out;
  for (const auto& [original, totals] : runtime_stacks) {
    Stack stack = original;
    if (only_runtime_frames(stack) && stack.size() > 1 && stack.front().first == "runtime.mallocgc")
      stack.erase(stack.begin());
    add(&out[stack], totals);
  }
  return out;
}

// How the stacks of one toolchain's run are compared.
class Comparison {
 public:
  explicit Comparison(int minor)
      : init_unprofiled_(minor < 21),
        // The runtime keeps at most 32 frames of a stack before Go 1.23 and
        // 128 from then on, counting the allocator's frames it then hides.
        runtime_depth_(minor <= 22 ? 32 : 128) {}

  // What the runtime's profile cannot hold, on both sides:
  //  - main.writeProfile: allocated after the profile's snapshot (the
  //    fixture collects twice first, which publishes everything before);
  //  - runtime.schedinit: the bootstrap, before the runtime reads GODEBUG
  //    and can record a stack;
  //  - before Go 1.21, package initialization (runtime.doInit): there the
  //    runtime's own package initializer sets MemProfileRate back to its
  //    default, overriding GODEBUG, until the fixture's initializer sets it
  //    to 1 again.
  bool excluded(const Stack& stack) const {
    return has_frame(stack, "main.writeProfile") || has_frame(stack, "runtime.schedinit") ||
           (init_unprofiled_ && (has_frame(stack, "runtime.doInit") || has_frame(stack, "runtime.doInit1")));
  }
  // Before Go 1.21 the runtime also allocates for itself in that gap
  // (runtime.main's gcenable, the threads and goroutines it starts), with
  // stacks of runtime frames only that it also makes later: there such
  // stacks need only be in gotrace's profile, not match it.
  bool loosely_compared(const Stack& stack) const { return init_unprofiled_ && only_runtime_frames(stack); }
  // A stack that long may be cut, and stands for every longer stack of
  // gotrace's whose leaf-most frames it is.
  bool maybe_cut(const Stack& stack) const { return !excluded(stack) && stack.size() + 8 >= runtime_depth_; }

 private:
  bool init_unprofiled_;
  size_t runtime_depth_;
};

struct Matched {
  Stacks by_runtime_stack;  // gotrace's totals, by the runtime stack each went to
  std::vector<std::pair<Stack, ObjectsAndBytes>> only_gotrace;
};

// Each gotrace stack goes to the runtime stack equal to it or, failing that,
// to the longest possibly-cut runtime stack it starts with.
Matched match_stacks(const Stacks& gotrace_stacks, const Stacks& runtime_stacks, const Comparison& comparison) {
  std::vector<const Stack*> maybe_cut;
  for (const auto& [stack, totals] : runtime_stacks)
    if (comparison.maybe_cut(stack)) maybe_cut.push_back(&stack);
  Matched matched;
  for (const auto& [stack, totals] : gotrace_stacks) {
    if (comparison.excluded(stack)) continue;
    const Stack* target = runtime_stacks.count(stack) ? &stack : nullptr;
    if (target == nullptr) {
      for (const Stack* cut : maybe_cut)
        if (cut->size() < stack.size() && std::equal(cut->begin(), cut->end(), stack.begin()) &&
            (target == nullptr || cut->size() > target->size()))
          target = cut;
    }
    if (target != nullptr) {
      add(&matched.by_runtime_stack[*target], totals);
    } else if (totals.bytes >= 16 * totals.objects && !comparison.loosely_compared(stack) &&
               !(only_runtime_frames(stack) && nearly_equal(totals.objects, 0))) {
      // The tiny allocator's stacks (pointer-free objects under 16 bytes)
      // may be missing: the runtime records only the allocations that open
      // a new 16-byte block. So may the runtime's own allocations after the
      // profile's snapshot (a thread started as the last collection ends,
      // or by sysmon): a stack of runtime frames only is let off when it is
      // as near to none as counts must be to each other.
      matched.only_gotrace.push_back({stack, totals});
    }
  }
  return matched;
}

// Whether the tiny allocator explains why gotrace counts more at a stack
// than the runtime does. The runtime records a pointer-free allocation under
// 16 bytes only when it opens a new 16-byte block, and then as 16 bytes;
// gotrace records every one, as the bytes requested. At a stack where such
// allocations mix with others, the runtime is short by those it packed into
// a block already open: d more objects in gotrace's figure, with e more
// bytes. If T allocations there were tiny (d <= T <= d + the runtime's
// objects, as the runtime recorded T - d blocks) of 1 to 15 bytes each, e
// lies between 16d - 15T and 16d - T; over every such T, between
// d - 15 * the runtime's objects and 15d.
bool tiny_blocks_explain(const ObjectsAndBytes& gotrace, const ObjectsAndBytes& runtime) {
  int64_t d = gotrace.objects - runtime.objects, e = gotrace.bytes - runtime.bytes;
  return d > 0 && e >= d - 15 * runtime.objects && e <= 15 * d;
}

struct Difference {
  int64_t weight;
  std::string text;
};

struct Differences {
  std::vector<Difference> found;
  int64_t compared_objects = 0;
};

Differences differences_between(const Stacks& runtime_stacks, const Matched& matched, const Comparison& comparison) {
  Differences out;
  for (const auto& [stack, runtime] : runtime_stacks) {
    if (comparison.excluded(stack)) continue;
    auto got = matched.by_runtime_stack.find(stack);
    if (got == matched.by_runtime_stack.end()) {
      // The runtime picks the leading frames to hide by the function at
      // each return address rather than at the call before it: a frame of
      // the runtime's timers outside package runtime (time.resetTimer)
      // whose return address lands in an inlined runtime function keeps the
      // runtime from hiding anything. Its timers allocate a handful of
      // times; such a stack, a runtime frame at its leaf, is let off when
      // as near to none as counts must be to each other.
      if (stack.front().first.starts_with("runtime.") && nearly_equal(runtime.objects, 0)) continue;
      out.found.push_back({runtime.objects, fmt::format("only in the runtime's profile: {} objects, {} bytes: {}",
                                                        runtime.objects, runtime.bytes, describe_stack(stack))});
      continue;
    }
    // Counted per 16-byte block by the runtime where the tiny allocator
    // served the stack: only its presence is compared.
    if (got->second.bytes < 16 * got->second.objects || comparison.loosely_compared(stack)) continue;
    out.compared_objects += runtime.objects;
    if (!nearly_equal(got->second.objects, runtime.objects) && !tiny_blocks_explain(got->second, runtime))
      out.found.push_back({std::abs(got->second.objects - runtime.objects),
                           fmt::format("count differs: runtime {} objects ({} bytes), gotrace {} ({} bytes): {}",
                                       runtime.objects, runtime.bytes, got->second.objects, got->second.bytes,
                                       describe_stack(stack))});
  }
  for (const auto& [stack, totals] : matched.only_gotrace)
    out.found.push_back({totals.objects, fmt::format("only in gotrace's profile: {} objects, {} bytes: {}",
                                                     totals.objects, totals.bytes, describe_stack(stack))});
  return out;
}

// The heaviest differences first, forty at most.
std::string describe(std::vector<Difference> differences) {
  std::stable_sort(differences.begin(), differences.end(),
                   [](const Difference& a, const Difference& b) { return a.weight > b.weight; });
  const size_t shown = std::min<size_t>(differences.size(), 40);
  std::string text;
  for (size_t i = 0; i < shown; ++i) text += "  " + differences[i].text + "\n";
  if (shown < differences.size()) text += fmt::format("  ... and {} more\n", differences.size() - shown);
  return text;
}

TEST(Tracer, WholeStacksMatchTheRuntimesOwnProfileOnEveryToolchain) {
  REQUIRE_BPF_PRIVILEGES();
  // The service fixture handles requests the way Go services do (maps,
  // reflect calls, a goroutine per request, defers, generics, interface
  // wrappers, strings, JSON, deep recursion) and then writes the runtime's
  // own exact heap profile (MemProfileRate = 1). Every stack gotrace reports
  // must be the runtime's: the same frames, function names and lines, and
  // the same number of allocations.
  ScratchFile gotrace_profile("service-gotrace.pb.gz"), runtime_profile("service-runtime.pb.gz");
  for (const FixtureBuild& build : fixture_builds("service")) {
    SCOPED_TRACE(build.label());
    const int minor = go_minor(build.go_version);
    // GODEBUG=memprofilerate=1 has the runtime record every allocation from
    // its start-up on, and not only from the fixture's own initializer.
    auto result = run_command({"env", "GODEBUG=memprofilerate=1", gotrace_binary(), "run", "-o",
                               gotrace_profile.path(), "--", build.path, runtime_profile.path()});
    ASSERT_EQ(result.exit_code, 0) << result.err << result.out;
    expect_nothing_lost(result.err);
    Stacks gotrace_stacks = read_pprof_stacks(gotrace_profile.path());
    Stacks runtime_stacks = read_pprof_stacks(runtime_profile.path());
    if (minor >= 26) runtime_stacks = without_leading_mallocgc(runtime_stacks);
    ASSERT_GT(runtime_stacks.size(), 50u);
    ASSERT_FALSE(gotrace_stacks.empty());

    Comparison comparison(minor);
    Matched matched = match_stacks(gotrace_stacks, runtime_stacks, comparison);
    Differences differences = differences_between(runtime_stacks, matched, comparison);
    // The workload itself was compared, not just its edges.
    EXPECT_GT(differences.compared_objects, 100000);
    std::cout << fmt::format("{:<50} {} of the runtime's {} stacks found among gotrace's {}; {} allocations compared; {} "
                             "differences\n",
                             build.label(), matched.by_runtime_stack.size(), runtime_stacks.size(),
                             gotrace_stacks.size(), differences.compared_objects, differences.found.size());
    if (!differences.found.empty()) {
      ADD_FAILURE() << differences.found.size() << " stacks differ between gotrace's profile ("
                    << gotrace_stacks.size() << " stacks) and the runtime's (" << runtime_stacks.size()
                    << "), leaf first, heaviest first:\n"
                    << describe(differences.found);
    }
  }
}

}  // namespace
}  // namespace gotrace
