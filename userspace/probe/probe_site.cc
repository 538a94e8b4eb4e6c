#include "userspace/probe/probe_site.h"

#include <Zydis/Zydis.h>

#include <algorithm>

namespace gotrace {
namespace {

constexpr int kMaxPrologueInstructions = 16;

// `cmp <reg>, [r14+0x10]`: R14 holds the current g in Go's register ABI and
// g.stackguard0 is at offset 16.
bool is_stack_bound_compare(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* operands) {
  if (insn.mnemonic != ZYDIS_MNEMONIC_CMP) return false;
  for (int i = 0; i < insn.operand_count_visible; ++i) {
    const ZydisDecodedOperand& op = operands[i];
    if (op.type == ZYDIS_OPERAND_TYPE_MEMORY && op.mem.base == ZYDIS_REGISTER_R14 &&
        op.mem.index == ZYDIS_REGISTER_NONE && op.mem.disp.has_displacement && op.mem.disp.value == 0x10)
      return true;
  }
  return false;
}

bool is_conditional_jump(const ZydisDecodedInstruction& insn) {
  return insn.meta.category == ZYDIS_CATEGORY_COND_BR;
}

}  // namespace

Result<ProbedInstruction> find_probed_instruction(std::string_view function, ByteView code, uint64_t entry) {
  code = ByteView(code.data(), std::min(code.size(), kMaxPrologueBytes));
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisFormatter formatter;
  ZydisFormatterInit(&formatter, ZYDIS_FORMATTER_STYLE_ATT);

  bool compare_seen = false;
  uint64_t offset = 0;
  for (int count = 0; count < kMaxPrologueInstructions && offset < code.size(); ++count) {
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, code.data() + offset, code.size() - offset, &insn, operands)))
      break;
    if (compare_seen && is_conditional_jump(insn)) {
      uint64_t site = offset + insn.length;
      ZydisDecodedInstruction next;
      ZydisDecodedOperand next_operands[ZYDIS_MAX_OPERAND_COUNT];
      if (site >= code.size() || !ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, code.data() + site,
                                                                     code.size() - site, &next, next_operands)))
        break;
      char text[128];
      ZydisFormatterFormatInstruction(&formatter, &next, next_operands, next.operand_count_visible, text,
                                      sizeof(text), entry + site, nullptr);
      return ProbedInstruction{site, text};
    }
    compare_seen = is_stack_bound_compare(insn, operands);
    offset += insn.length;
  }
  return make_error("no stack-bound check found in the prologue of {}; refusing to probe it", function);
}

Result<ProbeSite> find_probe_site(const GoBinary& binary, const FunctionInfo& function) {
  uint64_t length = std::min<uint64_t>(function.end - function.entry, kMaxPrologueBytes);
  auto code = binary.elf().bytes_at_vaddr(function.entry, length);
  auto file_offset = binary.file_offset(function.entry);
  if (!code || !file_offset)
    return make_error("'{}': code of {} is not in the file", binary.name(), function.name);
  auto probed = find_probed_instruction(function.name, *code, function.entry);
  if (!probed) return with_context(probed.error(), fmt::format("'{}'", binary.name()));
  return ProbeSite{std::string(function.name), function.entry, function.entry + probed->offset,
                   *file_offset + probed->offset, std::move(probed->text)};
}

}  // namespace gotrace
