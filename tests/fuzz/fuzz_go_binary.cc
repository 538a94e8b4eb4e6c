// libFuzzer target: a hostile executable handed to the symbolizer.
//
// The input is the whole file. When it opens as a Go binary, the target does
// everything the tracer does with one (build info, allocator entry points,
// symbolization of PCs all over and around the text, type names in and
// around the type descriptor range, walking the function table) and checks
// the invariants callers rely on: every string handed out points into the
// file (or is a fixed placeholder), frames come innermost first with exactly
// one physical frame last, function lookups agree with their ranges.
// Crashes, leaks, sanitizer reports and hangs are what the fuzzer looks for;
// a violated invariant aborts so that it is reported the same way.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "symbolizer/elf_file.h"
#include "symbolizer/elf_symbols.h"
#include "symbolizer/go_binary.h"
#include "userspace/explain/call_instructions.h"
#include "userspace/probe/allocation_types.h"
#include "userspace/probe/entry_points.h"
#include "userspace/probe/heap_profiler_hooks.h"

namespace {

using namespace gotrace;

const uint8_t* g_data = nullptr;
size_t g_size = 0;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_go_binary: invariant violated: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

// Strings from the symbolizer point into the file (they live as long as the
// mapping) or are short placeholders such as "?".
void check_text(std::string_view text, const char* what) {
  if (text.empty() || text == "?") return;
  auto begin = reinterpret_cast<uintptr_t>(text.data());
  auto start = reinterpret_cast<uintptr_t>(g_data);
  if (begin < start || begin - start > g_size || text.size() > g_size - (begin - start)) fail(what);
}

// Reads every byte, so ASan notices a view that does not own what it claims.
volatile uint8_t g_sink;
void touch(ByteView bytes) {
  uint8_t x = 0;
  for (uint64_t i = 0; i < bytes.size(); i += 61) x ^= bytes.data()[i];
  if (!bytes.empty()) x ^= bytes.data()[bytes.size() - 1];
  g_sink = x;
}

void exercise_elf(const ElfFile& elf) {
  (void)elf.is_pie();
  (void)elf.entry();
  (void)elf.has_symtab();
  (void)elf.has_dwarf();
  (void)elf.gnu_build_id().size();
  (void)elf.go_build_id().size();
  // The first few sections and segments only: lookups by name and address
  // are linear, and a hostile file may have 65535 sections and 4096 segments.
  size_t count = 0;
  for (const ElfSection& section : elf.sections()) {
    if (++count > 64) break;
    check_text(section.name, "section name");
    if (auto bytes = elf.section_bytes(section)) touch(*bytes);
    check(elf.section(section.name) != nullptr, "section() does not find a listed section");
  }
  count = 0;
  for (const ElfSegment& segment : elf.load_segments()) {
    if (++count > 64) break;
    for (uint64_t vaddr : {segment.vaddr, segment.vaddr + segment.filesz - 1, segment.vaddr + segment.filesz,
                           segment.vaddr + segment.memsz - 1, segment.vaddr + segment.memsz, segment.vaddr - 1}) {
      (void)elf.segment_for_vaddr(vaddr);
      if (auto offset = elf.vaddr_to_offset(vaddr)) check(*offset < elf.bytes().size(), "vaddr_to_offset past the end");
      if (auto rest = elf.bytes_from_vaddr(vaddr)) touch(*rest);
      if (auto bytes = elf.bytes_at_vaddr(vaddr, 48)) touch(*bytes);
    }
  }
}

// A function name as the tracer prints it (type parameters elided).
void check_printed_name(std::string_view name) {
  std::string storage;
  std::string_view printed = function_name_for_print(name, &storage);
  if (printed.data() != name.data()) check(printed.data() == storage.data(), "printed name points elsewhere");
  check(printed.size() <= name.size() + 5, "printed name longer than the name plus \"[...]\"");
}

void check_function(const FunctionInfo& f, const Pclntab& table) {
  check_text(f.name, "function name");
  check_printed_name(f.name);
  check(f.index <= table.function_count(), "function index out of range");
}

void symbolize(const GoBinary& binary, uint64_t pc, std::vector<Frame>* frames) {
  for (bool return_address : {false, true}) {
    frames->clear();
    const char* reason = binary.symbolize(pc, return_address, frames);
    if (reason != nullptr) {
      check(*reason != '\0', "empty failure reason");
      continue;
    }
    check(!frames->empty(), "symbolize succeeded without frames");
    check(!frames->back().inlined, "outermost frame marked inlined");
    for (size_t i = 0; i < frames->size(); ++i) {
      const Frame& frame = (*frames)[i];
      check_text(frame.function, "frame function");
      check_printed_name(frame.function);
      check_text(frame.file, "frame file");
      if (i + 1 < frames->size()) check(frame.inlined, "physical frame before the outermost");
    }
  }
  auto function = binary.pclntab().function_for_pc(pc);
  if (function) {
    check_function(*function, binary.pclntab());
    check(function->entry <= pc && pc < function->end, "function_for_pc returned a function not containing the pc");
  }
}

// The allocator's entry points, searched for in the code as attach does,
// and functions looked up by name.
void exercise_entry_points(const GoBinary& binary) {
  const Pclntab& table = binary.pclntab();
  if (auto found = find_allocation_entry_points(binary)) {
    check(!found->entry_points.empty() && found->entry_points.front().function.name == "runtime.mallocgc",
          "runtime.mallocgc is not the first entry point");
    for (const auto* points : {&found->entry_points, &found->unverified}) {
      for (const EntryPoint& point : *points) {
        check_function(point.function, table);
        check(!point.how_found.empty(), "entry point without how it was found");
      }
    }
  } else {
    check(!found.error().message.empty(), "empty entry point error");
  }
  // The heap profiler's hooks, found in the same code, and MemProfileRate among its data.
  if (auto hooks = find_heap_profiler_hooks(binary)) {
    check(hooks->sample.vaddr >= hooks->sample.entry && hooks->free.vaddr >= hooks->free.entry,
          "a heap profiler probe before its function");
    check(!hooks->how_found.empty(), "heap profiler hooks without how they were found");
  } else {
    check(!hooks.error().message.empty(), "empty heap profiler hooks error");
  }
  for (std::string_view name : {"runtime.mallocgc", "main.main", "runtime.goexit", ""}) {
    if (auto f = binary.find_function(name)) {
      check_function(*f, table);
      check(f->name == name, "find_function returned another function");
    }
  }
}

// Type names in and around the type descriptor range.
void exercise_type_names(const GoBinary& binary) {
  std::vector<uint64_t> type_addresses = {0, ~uint64_t(0)};
  if (const auto& md = binary.module_data()) {
    uint64_t types = md->types, etypes = md->etypes;
    for (uint64_t a : {types - 1, types, types + 1, types + 8, etypes - 48, etypes - 1, etypes, etypes + 1})
      type_addresses.push_back(a);
    uint64_t type_span = etypes - types;
    for (uint64_t i = 0; i < 64; ++i) type_addresses.push_back(types + (type_span / 64) * i + i % 8);
    (void)md->gofunc;
  }
  for (uint64_t address : type_addresses) {
    if (auto name = binary.type_name(address)) {
      check(!name->empty(), "empty type name");
      check_text(*name, "type name");
    }
  }
}

// Allocation types read from the code, at return addresses around the
// sampled functions' entries and ends: a known type is always a type of the binary.
void exercise_allocation_types(const GoBinary& binary, const std::vector<uint64_t>& entries) {
  AllocationTypes types(binary);
  for (uint64_t entry : entries) {
    auto function = binary.pclntab().function_for_pc(entry);
    uint64_t end = function ? function->end : entry + 64;
    for (uint64_t ra : {entry + 5, entry + 9, end - 1, end, end + 5, (entry + end) / 2}) {
      uint64_t stack[] = {ra, end, entry + 5, ra + 7, end - 3};
      AllocationType got = types.type_of(stack, ArgumentRegister::kRbx);
      if (got.kind == AllocationType::Kind::kKnown)
        check(binary.type_name(got.type_vaddr).has_value(), "known type that is not one");
    }
  }
}

// The instructions at return addresses in and around the sampled
// functions: an error with a message, or the call that ends at the return
// address last; and the .symtab's names, which point into the file.
void exercise_call_instructions(const GoBinary& binary, const std::vector<uint64_t>& entries) {
  CallDisassembler disassembler(binary);
  ElfSymbols symbols(binary.elf());
  for (uint64_t entry : entries) {
    if (const ElfSymbol* symbol = symbols.containing(entry)) check_text(symbol->name, "symbol name");
    auto function = binary.pclntab().function_for_pc(entry);
    uint64_t end = function ? function->end : entry + 64;
    for (uint64_t ra : {entry + 5, entry + 9, end - 1, end, (entry + end) / 2}) {
      auto got = disassembler.call_instructions(ra, 4);
      if (!got) {
        check(!got.error().message.empty(), "empty call instructions error");
        continue;
      }
      check(!got->instructions.empty() && got->instructions.size() <= 5, "call instructions: too many or none");
      const DisassembledInstruction& call = got->instructions.back();
      check(call.is_call && call.address + call.length == ra, "call instructions: the call does not end there");
    }
  }
}

void exercise_binary(const GoBinary& binary) {
  const BuildInfo& info = binary.build_info();
  (void)info.release();
  (void)info.setting("-buildmode");
  (void)info.setting("CGO_ENABLED");
  (void)parse_go_version(info.go_version);
  (void)binary.stripped();
  (void)binary.prints_elided_type_parameters();
  (void)binary.pclntab_found_by_scan();

  const Pclntab& table = binary.pclntab();
  (void)to_string(table.format());
  (void)table.can_expand_inlining();
  uint64_t min_pc = table.min_pc(), max_pc = table.max_pc();

  exercise_entry_points(binary);

  // The whole function table, as a tracer listing functions would see it.
  uint64_t visited = 0;
  std::vector<uint64_t> entries;
  table.for_each_function([&](const FunctionInfo& f) {
    check_function(f, table);
    if (visited++ % 64 == 0 && entries.size() < 128) entries.push_back(f.entry);
  });
  check(visited == table.function_count(), "for_each_function count differs from function_count");
  (void)table.function(static_cast<uint32_t>(table.function_count()));  // the end sentinel

  // PCs spread over the text, at function boundaries, and past both ends.
  std::vector<Frame> frames;
  uint64_t span = max_pc - min_pc;
  constexpr uint64_t kSpread = 256;
  for (uint64_t i = 0; i < kSpread; ++i) {
    uint64_t pc = min_pc + (span / kSpread) * i + (span % kSpread) * i / kSpread;
    symbolize(binary, pc, &frames);
  }
  for (uint64_t entry : entries) {
    for (uint64_t pc : {entry - 1, entry, entry + 1}) symbolize(binary, pc, &frames);
  }
  for (uint64_t pc : {min_pc - 1, min_pc, min_pc + 1, max_pc - 1, max_pc, max_pc + 1, table.text_start(),
                      table.text_start() - 1, uint64_t(0), uint64_t(1), ~uint64_t(0)}) {
    symbolize(binary, pc, &frames);
  }
  // A second pass over a few PCs hits the decoded-table cache.
  for (uint64_t i = 0; i < 8; ++i) symbolize(binary, min_pc + (span / 8) * i, &frames);

  exercise_type_names(binary);
  exercise_allocation_types(binary, entries);
  exercise_call_instructions(binary, entries);
  (void)binary.file_offset(min_pc);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  g_data = data;
  g_size = size;
  auto elf = ElfFile::from_bytes(std::span<const uint8_t>(data, size), "fuzz-input");
  if (!elf) {
    check(!elf.error().message.empty(), "empty ElfFile error");
    return 0;
  }
  exercise_elf(**elf);
  auto binary = GoBinary::from_elf(std::move(*elf));
  if (!binary) {
    check(!binary.error().message.empty(), "empty GoBinary error");
    return 0;
  }
  exercise_binary(**binary);
  return 0;
}
