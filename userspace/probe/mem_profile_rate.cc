#include "userspace/probe/mem_profile_rate.h"

#include <Zydis/Zydis.h>

#include <algorithm>
#include <array>
#include <unordered_map>
#include <vector>

#include "symbolizer/elf_symbols.h"

namespace gotrace {
namespace {

constexpr std::string_view kProfileAlloc = "runtime.profilealloc";
constexpr std::string_view kNextSample = "runtime.nextSample";
constexpr std::string_view kSymbol = "runtime.MemProfileRate";

// The sections the linker puts pointer-free variables in (cmd/link's
// sym.SNOPTRDATA and sym.SNOPTRBSS); the garbage collector never scans them.
constexpr std::array<std::string_view, 2> kNoPointerSections = {".noptrdata", ".noptrbss"};

// No runtime function this search decodes is near this size (profilealloc
// is about 200 bytes): a bound against a corrupt function table.
constexpr uint64_t kMaxFunctionBytes = 64 * 1024;

bool is_word_read(const ZydisDecodedOperand& op) {
  return op.type == ZYDIS_OPERAND_TYPE_MEMORY && op.mem.type == ZYDIS_MEMOP_TYPE_MEM &&
         op.mem.base == ZYDIS_REGISTER_RIP && op.mem.index == ZYDIS_REGISTER_NONE && op.size == 64 &&
         (op.actions & ZYDIS_OPERAND_ACTION_MASK_READ) && !(op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE);
}

// What a function's code reads and calls.
struct CodeFacts {
  std::vector<uint64_t> word_reads;         // link-time addresses of 8-byte RIP-relative reads
  std::vector<uint64_t> compared_with_one;  // those of them whose value is compared with 1
  std::vector<uint64_t> calls;              // targets of direct calls
};

// Follows, in the order of the code (branches are not followed), which
// global each register was last loaded from, to tell which loaded values
// are compared with 1: nextSample's `MemProfileRate == 1`. Another write to
// the register does not end the link (Go 1.24's nextSample writes its
// result into the register on the path where the rate is 0, and jumps over
// the compare).
class LoadTracker {
 public:
  void see(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* operands, uint64_t address,
           CodeFacts* facts) {
    if (insn.operand_count_visible != 2) return;
    const ZydisDecodedOperand& left = operands[0];
    const ZydisDecodedOperand& right = operands[1];
    ZyanU64 global = 0;
    bool right_is_global = is_word_read(right) && ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &right, address, &global));
    if (insn.mnemonic == ZYDIS_MNEMONIC_MOV && left.type == ZYDIS_OPERAND_TYPE_REGISTER && right_is_global) {
      loaded_[ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, left.reg.value)] = global;
      return;
    }
    if (insn.mnemonic != ZYDIS_MNEMONIC_CMP || right.type != ZYDIS_OPERAND_TYPE_IMMEDIATE || right.imm.value.u != 1)
      return;
    if (left.type == ZYDIS_OPERAND_TYPE_REGISTER) {
      auto it = loaded_.find(ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, left.reg.value));
      if (it != loaded_.end()) facts->compared_with_one.push_back(it->second);
    } else if (is_word_read(left) && ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &left, address, &global))) {
      facts->compared_with_one.push_back(global);
    }
  }

 private:
  std::unordered_map<int, uint64_t> loaded_;  // by ZydisRegister
};


// Decodes `function` whole; undecodable bytes are stepped over.
CodeFacts code_facts(const GoBinary& binary, const FunctionInfo& function) {
  CodeFacts facts;
  if (function.end <= function.entry) return facts;
  auto code = binary.elf().bytes_at_vaddr(function.entry, std::min(function.end - function.entry, kMaxFunctionBytes));
  if (!code) return facts;
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  LoadTracker tracker;
  uint64_t offset = 0;
  while (offset < code->size()) {
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, code->data() + offset, code->size() - offset, &insn,
                                             operands))) {
      ++offset;
      continue;
    }
    uint64_t address = function.entry + offset;
    offset += insn.length;
    tracker.see(insn, operands, address, &facts);
    for (int i = 0; i < insn.operand_count_visible; ++i) {
      ZyanU64 target = 0;
      bool call = insn.mnemonic == ZYDIS_MNEMONIC_CALL && operands[i].type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
      if (!call && !is_word_read(operands[i])) continue;
      if (!ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &operands[i], address, &target))) continue;
      (call ? facts.calls : facts.word_reads).push_back(target);
    }
  }
  return facts;
}

// The no-pointer data section that holds all 8 bytes at `vaddr`, if any.
const ElfSection* no_pointer_section_of(const ElfFile& elf, uint64_t vaddr) {
  for (std::string_view name : kNoPointerSections) {
    const ElfSection* section = elf.section(name);
    if (section && vaddr >= section->addr && section->size >= 8 && vaddr - section->addr <= section->size - 8)
      return section;
  }
  return nullptr;
}

std::vector<uint64_t> unique(std::vector<uint64_t> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

std::string addresses_text(const std::vector<uint64_t>& addresses) {
  std::string text;
  for (uint64_t a : addresses) text += fmt::format("{}0x{:x}", text.empty() ? "" : ", ", a);
  return text;
}

}  // namespace

Result<GlobalVariable> find_mem_profile_rate_in_code(const GoBinary& binary) {
  const ElfFile& elf = binary.elf();
  auto profilealloc = binary.find_function(kProfileAlloc);
  if (!profilealloc)
    return make_error("'{}': runtime.MemProfileRate not found: no {} (heap profiling compiled out, or the function "
                      "inlined)",
                      binary.name(), kProfileAlloc);
  if (std::none_of(kNoPointerSections.begin(), kNoPointerSections.end(),
                   [&](std::string_view name) { return elf.section(name) != nullptr; }))
    return make_error("'{}': runtime.MemProfileRate not found: no .noptrdata or .noptrbss section header to tell "
                      "it from the runtime's pointers",
                      binary.name());
  CodeFacts facts = code_facts(binary, *profilealloc);
  std::string readers(kProfileAlloc);
  if (auto next_sample = binary.find_function(kNextSample);
      next_sample && std::find(facts.calls.begin(), facts.calls.end(), next_sample->entry) != facts.calls.end()) {
    CodeFacts more = code_facts(binary, *next_sample);
    facts.word_reads.insert(facts.word_reads.end(), more.word_reads.begin(), more.word_reads.end());
    facts.compared_with_one.insert(facts.compared_with_one.end(), more.compared_with_one.begin(),
                                   more.compared_with_one.end());
    readers += fmt::format(" (with {}, which it calls)", kNextSample);
  }
  std::vector<uint64_t> pointer_free, compared = unique(std::move(facts.compared_with_one)), both;
  for (uint64_t read : unique(std::move(facts.word_reads)))
    if (no_pointer_section_of(elf, read)) pointer_free.push_back(read);
  std::set_intersection(pointer_free.begin(), pointer_free.end(), compared.begin(), compared.end(),
                        std::back_inserter(both));
  if (both.size() != 1)
    return make_error("'{}': runtime.MemProfileRate not found in its code: of the {} pointer-free 8-byte variables "
                      "{} reads ({}), {} compared with 1",
                      binary.name(), pointer_free.size(), readers, addresses_text(pointer_free),
                      both.empty() ? std::string("none is") : fmt::format("{} are", both.size()));
  const ElfSection* section = no_pointer_section_of(elf, both.front());
  return GlobalVariable{both.front(),
                        fmt::format("from the code: of the {} pointer-free 8-byte variables {} reads, the one "
                                    "compared with 1 (nextSample's `MemProfileRate == 1`), in {}",
                                    pointer_free.size(), readers, section->name)};
}

std::optional<uint64_t> symtab_value(const ElfFile& elf, std::string_view name) {
  return ElfSymbols(elf).address_of(name);
}

Result<GlobalVariable> find_mem_profile_rate(const GoBinary& binary) {
  auto from_code = find_mem_profile_rate_in_code(binary);
  auto from_symtab = symtab_value(binary.elf(), kSymbol);
  if (!from_symtab) return from_code;
  std::string how = fmt::format("from the .symtab ({}); ", kSymbol);
  if (!from_code)
    how += "not found from the code: " + from_code.error().message;
  else if (from_code->vaddr == *from_symtab)
    how += "found at the same address " + from_code->how_found;
  else
    how += fmt::format("the code search found 0x{:x} instead ({})", from_code->vaddr, from_code->how_found);
  return GlobalVariable{*from_symtab, std::move(how)};
}

}  // namespace gotrace
