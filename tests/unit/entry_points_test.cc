// The allocator's entry points, found from each fixture binary's code, against
// an oracle computed with the Go toolchain: the `CALL runtime.malloc*`
// instructions that `go tool objdump` shows in functions outside the runtime,
// plus runtime.mallocgc. And the same search on damaged code.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "symbolizer/go_binary.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "userspace/probe/entry_points.h"

namespace gotrace {
namespace {

using testing::FixtureBuild;
using testing::fixture_builds;
using testing::gotrace_binary;
using testing::run_command;

// Code outside the runtime, as entry_points.cc defines it: a generic runtime
// function's instantiation (runtime.AddCleanup[go.shape...]) is compiled with
// the package that instantiates it, and calls size-specialized functions as
// that package does.
bool outside_runtime(std::string_view name) {
  return !(name.starts_with("runtime.") || name.starts_with("internal/runtime/")) ||
         name.find('[') != std::string_view::npos;
}

// Direct calls to runtime.malloc* from functions outside the runtime, by
// callee, from `go tool objdump` (the local Go reads binaries of every
// release). Its output has a `TEXT <function>(SB) <file>` line per function
// and `... CALL runtime.mallocgc(SB)` for a direct call.
std::map<std::string, uint64_t> objdump_malloc_calls(const std::string& path) {
  auto result = run_command({"go", "tool", "objdump", path});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  std::map<std::string, uint64_t> calls;
  bool outside = false;
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("TEXT ")) {
      size_t end = line.find("(SB)");
      outside = end != std::string::npos && outside_runtime(std::string_view(line).substr(5, end - 5));
      continue;
    }
    size_t call = line.find("\tCALL runtime.malloc");
    if (!outside || call == std::string::npos) continue;
    size_t begin = call + 6, end = line.find("(SB)", begin);
    if (end != std::string::npos) ++calls[line.substr(begin, end - begin)];
  }
  return calls;
}

std::unique_ptr<GoBinary> open_or_fail(const std::string& path) {
  auto binary = GoBinary::open(path);
  if (!binary) {
    ADD_FAILURE() << binary.error().message;
    return nullptr;
  }
  return std::move(*binary);
}

std::set<std::string> names(const std::vector<EntryPoint>& points) {
  std::set<std::string> out;
  for (const EntryPoint& point : points) out.insert(std::string(point.function.name));
  return out;
}

// The plain build of the same fixture by the same toolchain: go tool
// objdump cannot read a stripped binary, whose code is the plain one's.
std::string objdump_path(const FixtureBuild& build) {
  if (build.variant != "stripped") return build.path;
  for (const FixtureBuild& other : fixture_builds(build.fixture))
    if (other.go_version == build.go_version && other.variant == "plain") return other.path;
  ADD_FAILURE() << "no plain build next to " << build.label();
  return build.path;
}

// A build whose code calls size-specialized functions, as bytes to damage.
std::string specialized_fixture() {
  for (const FixtureBuild& build : fixture_builds("allocs"))
    if (build.go_version.starts_with("go1.27.") && build.variant == "plain") return build.path;
  ADD_FAILURE() << "no go1.27 plain build of allocs";
  return fixture_builds("allocs").front().path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The bytes of `path` with the code of every function rewritten by
// damage(code, length, entry vaddr).
template <typename Damage>
std::string damaged_copy(const std::string& path, Damage damage) {
  std::string bytes = read_file(path);
  auto original = GoBinary::open(path);
  if (!original) {
    ADD_FAILURE() << original.error().message;
    return bytes;
  }
  (*original)->pclntab().for_each_function([&](const FunctionInfo& f) {
    auto offset = (*original)->file_offset(f.entry);
    if (!offset || f.end <= f.entry || *offset + (f.end - f.entry) > bytes.size()) return;
    damage(reinterpret_cast<uint8_t*>(bytes.data() + *offset), f.end - f.entry, f.entry);
  });
  return bytes;
}

// What was found in a binary held in memory, with the bytes and the binary
// that the function names point into.
struct Searched : AllocationEntryPoints {
  std::unique_ptr<std::string> bytes;
  std::unique_ptr<GoBinary> binary;
};

Result<Searched> find_in_bytes(std::string bytes) {
  Searched searched;
  searched.bytes = std::make_unique<std::string>(std::move(bytes));
  const std::string& held = *searched.bytes;
  auto elf = ElfFile::from_bytes(std::span(reinterpret_cast<const uint8_t*>(held.data()), held.size()), "damaged");
  if (!elf) return elf.error();
  auto binary = GoBinary::from_elf(std::move(*elf));
  if (!binary) return binary.error();
  searched.binary = std::move(*binary);
  auto found = find_allocation_entry_points(*searched.binary);
  if (!found) return found.error();
  static_cast<AllocationEntryPoints&>(searched) = std::move(*found);
  return searched;
}

template <typename Damage>
Result<Searched> find_in_damaged(const std::string& path, Damage damage) {
  return find_in_bytes(damaged_copy(path, damage));
}

// What was found in a fixture build.
Result<Searched> entry_points_of(const FixtureBuild& build) { return find_in_bytes(read_file(build.path)); }

TEST(EntryPoints, MatchGoToolObjdumpOnEveryBuild) {
  for (const FixtureBuild& build : fixture_builds()) {
    SCOPED_TRACE(build.label());
    auto found = entry_points_of(build);
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_TRUE(found->unverified.empty()) << found->unverified.front().function.name << ": "
                                           << found->unverified.front().how_found;

    std::map<std::string, uint64_t> oracle = objdump_malloc_calls(objdump_path(build));
    std::set<std::string> expected{"runtime.mallocgc"};
    for (const auto& [callee, sites] : oracle) expected.insert(callee);
    EXPECT_EQ(names(found->entry_points), expected);

    ASSERT_FALSE(found->entry_points.empty());
    EXPECT_EQ(found->entry_points.front().function.name, "runtime.mallocgc");
    for (const EntryPoint& point : found->entry_points) {
      SCOPED_TRACE(point.function.name);
      EXPECT_EQ(point.call_sites, oracle[std::string(point.function.name)]);
      std::string sites = fmt::format("called directly from {} site", point.call_sites);
      EXPECT_NE(point.how_found.find(sites), std::string::npos) << point.how_found;
      if (point.function.name != "runtime.mallocgc") {
        EXPECT_NE(point.how_found.find("allocates without runtime.mallocgc"), std::string::npos) << point.how_found;
      }
    }
    for (size_t i = 2; i < found->entry_points.size(); ++i)
      EXPECT_LT(found->entry_points[i - 1].function.entry, found->entry_points[i].function.entry);
  }
}

TEST(EntryPoints, SizeSpecializedOnlyWhereTheExperimentIsOn) {
  bool tiny_size8 = false, tiny_sc2 = false;
  for (const FixtureBuild& build : fixture_builds()) {
    SCOPED_TRACE(build.label());
    auto found = entry_points_of(build);
    ASSERT_TRUE(found) << found.error().message;
    std::set<std::string> got = names(found->entry_points);
    // On by default from Go 1.27, opt-in in Go 1.26.
    bool experiment_on = build.variant == "exp-sizespecializedmalloc";
    bool experiment_off = build.variant == "exp-nosizespecializedmalloc";
    bool specialized = experiment_on || (build.go_version >= "go1.27" && !experiment_off);
    if (specialized) {
      EXPECT_GT(got.size(), 1u);
    } else {
      EXPECT_EQ(got, std::set<std::string>{"runtime.mallocgc"});
    }
    // new(int64) and the like: Go 1.26 calls one tiny entry point per size,
    // Go 1.27 one for all.
    if (build.go_version.starts_with("go1.26.") && experiment_on) {
      EXPECT_TRUE(got.count("runtime.mallocgcTinySize8"));
      tiny_size8 = true;
    }
    if (build.go_version.starts_with("go1.27.") && build.variant == "plain") {
      EXPECT_TRUE(got.count("runtime.mallocgcTinySC2"));
      tiny_sc2 = true;
    }
  }
  EXPECT_TRUE(tiny_size8) << "no go1.26 exp-sizespecializedmalloc build in the fixture manifest";
  EXPECT_TRUE(tiny_sc2) << "no go1.27 plain build in the fixture manifest";
}

// In the function at `entry`, aims every call that goes to `from` (every
// call, when `from` is 0) at `to` instead.
auto redirect_calls(uint64_t entry, uint64_t from, uint64_t to) {
  return [=](uint8_t* code, uint64_t length, uint64_t vaddr) {
    if (vaddr != entry) return;
    for (uint64_t i = 0; i + 5 <= length; ++i) {
      if (code[i] != 0xe8) continue;
      int32_t displacement;
      std::memcpy(&displacement, code + i + 1, 4);
      uint64_t next = vaddr + i + 5;
      if (from != 0 && next + int64_t(displacement) != from) continue;
      displacement = int32_t(int64_t(to) - int64_t(next));
      std::memcpy(code + i + 1, &displacement, 4);
    }
  };
}

uint64_t entry_of(const GoBinary& binary, std::string_view name) {
  auto f = binary.find_function(name);
  if (!f) ADD_FAILURE() << name << " not found";
  return f ? f->entry : 0;
}

TEST(EntryPoints, CallsOutsideTheTextDoNotCrash) {
  std::string path = specialized_fixture();
  auto intact = find_in_damaged(path, [](uint8_t*, uint64_t, uint64_t) {});
  ASSERT_TRUE(intact) << intact.error().message;
  EXPECT_GT(intact->entry_points.size(), 1u);

  // Every e8 byte's displacement (real calls and bytes inside other
  // instructions alike) aimed far outside the text, before and after it,
  // and at the last byte of the address space.
  int32_t displacements[] = {INT32_MAX, INT32_MIN, 0x7ffffff0, -0x7ffffff0};
  size_t turn = 0;
  auto found = find_in_damaged(path, [&](uint8_t* code, uint64_t length, uint64_t) {
    for (uint64_t i = 0; i + 5 <= length; ++i) {
      if (code[i] != 0xe8) continue;
      std::memcpy(code + i + 1, &displacements[turn++ % std::size(displacements)], 4);
    }
  });
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(names(found->entry_points), std::set<std::string>{"runtime.mallocgc"});
  EXPECT_EQ(found->entry_points.front().call_sites, 0u);
  EXPECT_TRUE(found->unverified.empty());
}

TEST(EntryPoints, CallsIntoThemselvesAndGarbageDoNotCrash) {
  std::string path = specialized_fixture();
  // Every call aimed at its own function's entry: cycles everywhere.
  auto cycles = find_in_damaged(path, [](uint8_t* code, uint64_t length, uint64_t) {
    for (uint64_t i = 0; i + 5 <= length; ++i) {
      if (code[i] != 0xe8) continue;
      int32_t back = -int32_t(i + 5);
      std::memcpy(code + i + 1, &back, 4);
    }
  });
  ASSERT_TRUE(cycles) << cycles.error().message;
  EXPECT_EQ(names(cycles->entry_points), std::set<std::string>{"runtime.mallocgc"});

  // Random bytes for code: whatever decodes, nothing breaks.
  std::mt19937 random(7);
  auto noise = find_in_damaged(path, [&](uint8_t* code, uint64_t length, uint64_t) {
    for (uint64_t i = 0; i < length; ++i) code[i] = uint8_t(random());
  });
  ASSERT_TRUE(noise) << noise.error().message;
  EXPECT_EQ(noise->entry_points.front().function.name, "runtime.mallocgc");
}

// PGO may inline runtime.mallocgc into newobject (the Go 1.26 compiler
// binary has it so): newobject then allocates without mallocgc, yet takes
// no mallocgc arguments. The same made by hand: newobject's call to
// mallocgc aimed at a function that allocates without it.
TEST(EntryPoints, MallocgcInlinedIntoACallerIsNotUnderstood) {
  std::string path = specialized_fixture();
  auto binary = open_or_fail(path);
  ASSERT_TRUE(binary);
  auto intact = find_allocation_entry_points(*binary);
  ASSERT_TRUE(intact) << intact.error().message;
  auto found = find_in_damaged(path, redirect_calls(entry_of(*binary, "runtime.newobject"),
                                                    entry_of(*binary, "runtime.mallocgc"),
                                                    entry_of(*binary, "runtime.mallocgcSmallScanSlowPath")));
  ASSERT_TRUE(found) << found.error().message;
  // Its callers in the runtime (makemap_small, ...) are counted there, not
  // reported again.
  EXPECT_EQ(names(found->unverified), std::set<std::string>{"runtime.newobject"});
  EXPECT_EQ(names(found->entry_points), names(intact->entry_points));
  ASSERT_FALSE(found->unverified.empty());
  EXPECT_NE(found->unverified.front().how_found.find("runtime.mallocgc is inlined into it"), std::string::npos)
      << found->unverified.front().how_found;
}

// The same inlining where the inlined mallocgc calls one of the functions
// the real mallocgc hands its arguments to (Go 1.24 to 1.26 without the
// experiment: mallocgcSmallScanNoHeader, ...): those are probed instead, and
// newobject is understood.
TEST(EntryPoints, MallocgcInlinedIntoACallerProbesTheFunctionsItCalls) {
  std::string path;
  for (const FixtureBuild& build : fixture_builds("allocs"))
    if (build.go_version.starts_with("go1.25.") && build.variant == "plain") path = build.path;
  ASSERT_FALSE(path.empty()) << "no go1.25 plain build of allocs";
  auto binary = open_or_fail(path);
  ASSERT_TRUE(binary);
  auto found = find_in_damaged(path, redirect_calls(entry_of(*binary, "runtime.newobject"),
                                                    entry_of(*binary, "runtime.mallocgc"),
                                                    entry_of(*binary, "runtime.mallocgcSmallScanNoHeader")));
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_TRUE(found->unverified.empty()) << names(found->unverified).size();
  EXPECT_EQ(names(found->entry_points),
            (std::set<std::string>{"runtime.mallocgc", "runtime.mallocgcSmallScanNoHeader"}));
  ASSERT_EQ(found->entry_points.size(), 2u);
  EXPECT_NE(found->entry_points[1].how_found.find("inlined (a PGO build) into runtime.newobject"), std::string::npos)
      << found->entry_points[1].how_found;
}

// An allocator function that no longer reaches the allocator's core: what a
// release that changed the allocator again could look like.
class EntryPointsNotUnderstood : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string path = specialized_fixture();
    auto binary = open_or_fail(path);
    ASSERT_TRUE(binary);
    uint64_t tiny = entry_of(*binary, "runtime.mallocgcTinySC2");
    bytes_ = damaged_copy(path, redirect_calls(tiny, 0, tiny));
    path_ = (std::filesystem::temp_directory_path() / fmt::format("gotrace-entry-points-{}", getpid())).string();
    std::ofstream(path_, std::ios::binary) << bytes_;
    chmod(path_.c_str(), 0755);
  }
  void TearDown() override { std::filesystem::remove(path_); }

  std::string bytes_, path_;
};

TEST_F(EntryPointsNotUnderstood, IsReturnedApart) {
  auto found = find_in_bytes(bytes_);
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_FALSE(names(found->entry_points).count("runtime.mallocgcTinySC2"));
  ASSERT_EQ(names(found->unverified), std::set<std::string>{"runtime.mallocgcTinySC2"});
  const EntryPoint& point = found->unverified.front();
  EXPECT_GT(point.call_sites, 0u);
  EXPECT_EQ(point.how_found, fmt::format("called directly from {} site{} outside the runtime; reaches neither "
                                         "runtime.mallocgc nor the allocator's core within 3 calls",
                                         point.call_sites, point.call_sites == 1 ? "" : "s"));
}

TEST_F(EntryPointsNotUnderstood, InfoListsIt) {
  auto text = run_command({gotrace_binary(), "info", path_});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  size_t section = text.out.find("allocation paths not understood (1), never probed;");
  ASSERT_NE(section, std::string::npos) << text.out;
  EXPECT_NE(text.out.find("runtime.mallocgcTinySC2", section), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("not probed\n    called directly from", section), std::string::npos) << text.out;

  auto json = run_command({gotrace_binary(), "info", "--json", path_});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_NE(json.out.find(R"("unverified_entry_points":[{"function":"runtime.mallocgcTinySC2")"), std::string::npos)
      << json.out;
  EXPECT_NE(json.out.find(R"("allocation_entry_points":[{"function":"runtime.mallocgc",)"), std::string::npos)
      << json.out;
}

TEST_F(EntryPointsNotUnderstood, TracingRefusesIt) {
  REQUIRE_BPF_PRIVILEGES();
  auto found = find_in_bytes(bytes_);
  ASSERT_TRUE(found && !found->unverified.empty());
  auto result = run_command({gotrace_binary(), "run", "--", path_});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, fmt::format("gotrace: error: '{}': allocation path not understood: runtime.mallocgcTinySC2 "
                                    "({}); its allocations would not be counted (--allow-unverified-go traces the "
                                    "rest anyway)\n",
                                    path_, found->unverified.front().how_found));
  EXPECT_EQ(result.out, "");
}

}  // namespace
}  // namespace gotrace
