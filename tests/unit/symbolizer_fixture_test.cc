// The symbolizer against real Go binaries of every toolchain in the fixture
// matrix, with the Go toolchain and the Go runtime as oracles:
// - `go tool addr2line` for the outermost function and innermost file:line;
// - the fixture's own runtime.CallersFrames output for inlined frames;
// - the fixture's own reflect output for type names.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <sstream>

#include "symbolizer/go_binary.h"
#include "symbolizer/process_maps.h"
#include "tests/support/child_process.h"
#include "tests/support/fixture_builds.h"

namespace gotrace {
namespace {

using testing::ChildProcess;
using testing::FixtureBuild;
using testing::fixture_builds;
using testing::run_command;

std::unique_ptr<GoBinary> open_or_fail(const FixtureBuild& build) {
  auto binary = GoBinary::open(build.path);
  if (!binary) {
    ADD_FAILURE() << build.label() << ": " << binary.error().message;
    return nullptr;
  }
  return std::move(*binary);
}

TEST(SymbolizerFixtures, MatrixCoversEveryRequiredToolchainAndVariant) {
  std::map<std::string, std::set<std::string>> variants;
  for (const FixtureBuild& build : fixture_builds("symtest")) {
    std::string release = build.go_version.substr(0, build.go_version.find('.', 4));  // go1.NN
    variants[release].insert(build.variant);
  }
  for (const char* release : {"go1.19", "go1.21", "go1.22", "go1.23", "go1.24", "go1.25", "go1.26", "go1.27"}) {
    SCOPED_TRACE(release);
    ASSERT_TRUE(variants.count(release));
    for (const char* variant : {"plain", "stripped", "pie"}) EXPECT_TRUE(variants[release].count(variant)) << variant;
  }
  bool has_cgo = false;
  for (const auto& [release, set] : variants) has_cgo |= set.count("cgo") > 0;
  EXPECT_TRUE(has_cgo) << "no externally linked cgo build";
}

TEST(SymbolizerFixtures, ReportsBuildFacts) {
  for (const FixtureBuild& build : fixture_builds()) {
    SCOPED_TRACE(build.label());
    auto binary = open_or_fail(build);
    if (!binary) continue;
    EXPECT_EQ(binary->build_info().go_version, build.go_version);
    EXPECT_EQ(binary->stripped(), build.variant == "stripped");
    EXPECT_EQ(binary->elf().is_pie(), build.variant == "pie" || build.variant == "cgo-pie");
    EXPECT_GT(binary->pclntab().function_count(), 1000u);
    EXPECT_TRUE(binary->module_data().has_value()) << "moduledata not found";
    EXPECT_TRUE(binary->pclntab().can_expand_inlining());
    EXPECT_EQ(binary->build_info().main_path, "gotrace.test/" + build.fixture);

    // The allocator's entry points are checked in entry_points_test.cc.
    const auto& experiments = binary->build_info().experiments;
    if (build.variant.starts_with("exp-")) {
      EXPECT_EQ(experiments, std::vector<std::string>{build.variant.substr(4)});
    } else {
      EXPECT_TRUE(experiments.empty());
    }
    auto mallocgc = binary->find_function("runtime.mallocgc");
    ASSERT_TRUE(mallocgc.has_value());
    auto offset = binary->file_offset(mallocgc->entry);
    ASSERT_TRUE(offset.has_value());
    // The bytes at that file offset are the function's first instruction, the
    // Go 1.17+ stack check: `cmp 0x10(%r14),%rsp` (49 3b 66 10) for small
    // frames, `lea -N(%rsp),%r12` (4c 8d 64 24) before the compare for large ones.
    auto first = binary->elf().bytes().read<uint32_t>(*offset);
    ASSERT_TRUE(first.has_value());
    EXPECT_TRUE(*first == 0x10663b49u || *first == 0x24648d4cu) << fmt::format("{:08x}", *first);
  }
}

// Picks PCs across the whole function table (entry, middle, a random byte)
// and every few bytes of the fixture's own functions.
std::vector<uint64_t> sample_pcs(const Pclntab& table, size_t want) {
  std::vector<uint64_t> pcs;
  std::mt19937_64 random(42);
  uint64_t n = table.function_count();
  uint64_t stride = std::max<uint64_t>(1, n / (want / 3));
  for (uint64_t i = 0; i < n; i += stride) {
    FunctionInfo f = table.function(i);
    if (f.end <= f.entry) continue;
    pcs.push_back(f.entry);
    pcs.push_back(f.entry + (f.end - f.entry) / 2);
    pcs.push_back(f.entry + random() % (f.end - f.entry));
  }
  table.for_each_function([&](const FunctionInfo& f) {
    if (!f.name.starts_with("main.") || f.end <= f.entry) return;
    for (uint64_t pc = f.entry; pc < f.end; pc += 1 + random() % 7) pcs.push_back(pc);
  });
  return pcs;
}

TEST(SymbolizerFixtures, AgreesWithGoToolAddr2line) {
  for (const FixtureBuild& build : fixture_builds()) {
    SCOPED_TRACE(build.label());
    auto binary = open_or_fail(build);
    if (!binary) continue;
    std::vector<uint64_t> pcs = sample_pcs(binary->pclntab(), 3000);
    ASSERT_GT(pcs.size(), 2000u);
    std::string input;
    for (uint64_t pc : pcs) input += fmt::format("0x{:x}\n", pc);
    auto result = run_command({"go", "tool", "addr2line", build.path}, input);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    std::istringstream answers(result.out);

    size_t compared = 0, mismatches = 0, unresolved = 0;
    std::vector<Frame> frames;
    for (uint64_t pc : pcs) {
      std::string want_function, want_position;
      ASSERT_TRUE(std::getline(answers, want_function) && std::getline(answers, want_position));
      frames.clear();
      const char* failure = binary->symbolize(pc, false, &frames);
      if (failure != nullptr || frames.empty()) {
        // Only the alignment padding after a function's code lacks line data;
        // addr2line prints the function with an unknown position there.
        ++unresolved;
        EXPECT_EQ(want_position.substr(0, 2), ":-") << fmt::format("0x{:x}: {}", pc, failure ? failure : "no frames");
        continue;
      }
      std::string got_function(frames.back().function);
      std::string got_position = fmt::format("{}:{}", frames.front().file, frames.front().line);
      ++compared;
      if (got_function != want_function || got_position != want_position) {
        if (++mismatches <= 10)
          ADD_FAILURE() << fmt::format("0x{:x}: gotrace {} {} / addr2line {} {}", pc, got_function, got_position,
                                       want_function, want_position);
      }
    }
    EXPECT_EQ(mismatches, 0u) << "of " << compared;
    EXPECT_LT(unresolved, pcs.size() / 10) << "too many PCs without line information";
  }
}

// What the fixture printed about itself while running.
struct FixtureReport {
  struct Frame {
    uint64_t pc;
    bool inlined;
    std::string function, file;
    int64_t line;
  };
  std::map<std::string, std::vector<Frame>> stacks;  // by stack name, in order
  std::vector<std::pair<uint64_t, std::string>> types;
  std::vector<std::pair<std::string, uint64_t>> entries;
};

FixtureReport parse_report(const std::vector<std::string>& lines) {
  FixtureReport report;
  for (const std::string& line : lines) {
    std::istringstream in(line);
    std::string kind;
    in >> kind;
    if (kind == "frame") {
      std::string stack, pc, rest;
      int index, inlined;
      in >> stack >> index >> pc >> inlined;
      std::getline(in >> std::ws, rest);
      FixtureReport::Frame frame{std::stoull(pc, nullptr, 16), inlined != 0, "", "", 0};
      size_t tab1 = rest.find('\t'), tab2 = rest.rfind('\t');
      frame.function = rest.substr(0, tab1);
      frame.file = rest.substr(tab1 + 1, tab2 - tab1 - 1);
      frame.line = std::stoll(rest.substr(tab2 + 1));
      report.stacks[stack].push_back(frame);
    } else if (kind == "type") {
      std::string addr, name;
      in >> addr;
      std::getline(in >> std::ws, name);
      report.types.emplace_back(std::stoull(addr, nullptr, 16), name);
    } else if (kind == "entry") {
      std::string name, addr;
      in >> name >> addr;
      report.entries.emplace_back(name, std::stoull(addr, nullptr, 16));
    }
  }
  return report;
}

TEST(SymbolizerFixtures, InlinedFramesMatchRuntimeCallersFrames) {
  for (const FixtureBuild& build : fixture_builds("symtest")) {
    SCOPED_TRACE(build.label());
    auto binary = open_or_fail(build);
    if (!binary) continue;
    ChildProcess child({build.path});
    FixtureReport report = parse_report(child.read_until("ready"));
    ASSERT_GE(report.stacks.size(), 6u);

    auto process = inspect_process(child.pid());
    ASSERT_TRUE(process) << process.error().message;
    auto translator = AddressTranslator::create(*process, binary->elf());
    ASSERT_TRUE(translator) << translator.error().message;
    if (binary->elf().is_pie()) {
      EXPECT_NE(translator->load_bias(), 0u);
    }

    ASSERT_EQ(report.entries.size(), 2u) << "the fixture reports main.main's and main.bigFrame's entry";
    for (const auto& [name, entry] : report.entries) {
      auto function = binary->find_function(name);
      ASSERT_TRUE(function) << name;
      EXPECT_EQ(translator->to_file_vaddr(entry), function->entry) << name;
    }

    size_t inlined_frames = 0;
    for (const auto& [stack, frames] : report.stacks) {
      SCOPED_TRACE(stack);
      // Logical frames come in groups: the inlined ones, then their physical
      // function; the group's first PC is the physical return address.
      for (size_t start = 0; start < frames.size();) {
        size_t end = start;
        while (end < frames.size() && frames[end].inlined) ++end;
        ASSERT_LT(end, frames.size()) << "stack ends with an inlined frame";
        auto pc = translator->to_file_vaddr(frames[start].pc);
        ASSERT_TRUE(pc) << fmt::format("0x{:x} is outside the executable", frames[start].pc);
        std::vector<Frame> got;
        const char* failure = binary->symbolize(*pc, true, &got);
        ASSERT_EQ(failure, nullptr) << failure;
        std::string want_text, got_text;
        for (size_t i = start; i <= end; ++i)
          want_text += fmt::format("{} {}:{}{}\n", frames[i].function, frames[i].file, frames[i].line,
                                   frames[i].inlined ? " (inlined)" : "");
        for (const Frame& f : got) {
          // The runtime prints generic names with elided type arguments from Go 1.21 on.
          std::string storage;
          std::string_view function =
              binary->prints_elided_type_parameters() ? function_name_for_print(f.function, &storage) : f.function;
          got_text += fmt::format("{} {}:{}{}\n", function, f.file, f.line, f.inlined ? " (inlined)" : "");
        }
        EXPECT_EQ(got_text, want_text) << fmt::format("at 0x{:x}", *pc);
        inlined_frames += end - start;
        start = end + 1;
      }
    }
    EXPECT_GE(inlined_frames, 3u) << "the fixture should report inlined frames";

    ASSERT_GE(report.types.size(), 15u);
    for (const auto& [address, want] : report.types) {
      auto vaddr = translator->to_file_vaddr(address);
      ASSERT_TRUE(vaddr) << want;
      auto got = binary->type_name(*vaddr);
      EXPECT_EQ(got.value_or("<none>"), want) << fmt::format("type at 0x{:x}", address);
    }
    EXPECT_EQ(child.wait(), 0);
  }
}

// The wrapper FuncID is derived from runtime.systemstack_switch's. With the
// right number, reflect's assembly runtime.callN frames (declared WRAPPER)
// are wrappers, ordinary functions are not, and the compiler's generated
// method wrappers are. Which frames the runtime's tracebacks hide is checked
// against its own profiles in the tracer tests.
TEST(SymbolizerFixtures, WrapperFuncIdMarksWrappers) {
  for (const FixtureBuild& build : fixture_builds("symtest")) {
    SCOPED_TRACE(build.label());
    auto binary = open_or_fail(build);
    if (!binary) continue;
    auto wrapper = binary->wrapper_func_id();
    ASSERT_TRUE(wrapper.has_value());
    auto func_id = [&](const char* name) -> std::optional<uint8_t> {
      auto f = binary->find_function(name);
      if (!f) return std::nullopt;
      return binary->pclntab().func_id(*f);
    };
    EXPECT_EQ(func_id("runtime.call32"), wrapper);
    EXPECT_EQ(func_id("main.main"), 0);
    EXPECT_EQ(func_id("runtime.mallocgc"), 0);
    int marked = 0;
    binary->pclntab().for_each_function([&](const FunctionInfo& f) {
      if (binary->pclntab().func_id(f) == wrapper) ++marked;
    });
    EXPECT_GE(marked, 10);
    EXPECT_LT(marked * 10, int(binary->pclntab().function_count()));
  }
}

TEST(SymbolizerFixtures, AddressesOutsideTextAreReportedNotFatal) {
  auto build = fixture_builds("symtest").front();
  auto binary = open_or_fail(build);
  ASSERT_TRUE(binary);
  std::vector<Frame> frames;
  EXPECT_STREQ(binary->symbolize(0, false, &frames), "address outside the Go text");
  EXPECT_STREQ(binary->symbolize(binary->pclntab().max_pc(), false, &frames), "address outside the Go text");
  EXPECT_TRUE(frames.empty());
  EXPECT_FALSE(binary->type_name(0).has_value());
  EXPECT_FALSE(binary->type_name(binary->pclntab().min_pc()).has_value());
}

}  // namespace
}  // namespace gotrace
