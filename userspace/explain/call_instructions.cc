#include "userspace/explain/call_instructions.h"

#include <Zydis/Zydis.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <deque>
#include <optional>
#include <span>
#include <string_view>

namespace gotrace {
namespace {

// The instructions x86asm's GoSyntax gives a size suffix (plan9Suffix):
// B, W, L or Q for an 8, 16, 32 or 64-bit operation.
constexpr std::array kSuffixed = {
    ZYDIS_MNEMONIC_ADC,      ZYDIS_MNEMONIC_ADD,      ZYDIS_MNEMONIC_AND,       ZYDIS_MNEMONIC_BSF,
    ZYDIS_MNEMONIC_BSR,      ZYDIS_MNEMONIC_BT,       ZYDIS_MNEMONIC_BTC,       ZYDIS_MNEMONIC_BTR,
    ZYDIS_MNEMONIC_BTS,      ZYDIS_MNEMONIC_CMP,      ZYDIS_MNEMONIC_CMPXCHG,   ZYDIS_MNEMONIC_CVTSI2SD,
    ZYDIS_MNEMONIC_CVTSI2SS, ZYDIS_MNEMONIC_CVTSD2SI, ZYDIS_MNEMONIC_CVTSS2SI,  ZYDIS_MNEMONIC_CVTTSD2SI,
    ZYDIS_MNEMONIC_CVTTSS2SI, ZYDIS_MNEMONIC_DEC,     ZYDIS_MNEMONIC_DIV,       ZYDIS_MNEMONIC_FLDENV,
    ZYDIS_MNEMONIC_FRSTOR,   ZYDIS_MNEMONIC_IDIV,     ZYDIS_MNEMONIC_IMUL,      ZYDIS_MNEMONIC_IN,
    ZYDIS_MNEMONIC_INC,      ZYDIS_MNEMONIC_LEA,      ZYDIS_MNEMONIC_MOV,       ZYDIS_MNEMONIC_MOVNTI,
    ZYDIS_MNEMONIC_MUL,      ZYDIS_MNEMONIC_NEG,      ZYDIS_MNEMONIC_NOP,       ZYDIS_MNEMONIC_NOT,
    ZYDIS_MNEMONIC_OR,       ZYDIS_MNEMONIC_OUT,      ZYDIS_MNEMONIC_POP,       ZYDIS_MNEMONIC_POPA,
    ZYDIS_MNEMONIC_POPCNT,   ZYDIS_MNEMONIC_PUSH,     ZYDIS_MNEMONIC_PUSHA,     ZYDIS_MNEMONIC_RCL,
    ZYDIS_MNEMONIC_RCR,      ZYDIS_MNEMONIC_ROL,      ZYDIS_MNEMONIC_ROR,       ZYDIS_MNEMONIC_SAR,
    ZYDIS_MNEMONIC_SBB,      ZYDIS_MNEMONIC_SHL,      ZYDIS_MNEMONIC_SHLD,      ZYDIS_MNEMONIC_SHR,
    ZYDIS_MNEMONIC_SHRD,     ZYDIS_MNEMONIC_SUB,      ZYDIS_MNEMONIC_TEST,      ZYDIS_MNEMONIC_XADD,
    ZYDIS_MNEMONIC_XCHG,     ZYDIS_MNEMONIC_XOR,
};

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = char(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Go's name of a register (x86asm's plan9Reg): one name for every width of
// a general-purpose register (the width is in the mnemonic's suffix) but
// for the legacy byte registers AL..BH.
std::string go_register(ZydisRegister reg) {
  static constexpr std::array<std::string_view, 16> kGeneral = {
      "AX", "CX", "DX", "BX", "SP", "BP", "SI", "DI", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15"};
  const char* zydis_name = ZydisRegisterGetString(reg);
  std::string_view name = zydis_name ? zydis_name : "?";
  ZyanI8 id = ZydisRegisterGetId(reg);
  switch (ZydisRegisterGetClass(reg)) {
    case ZYDIS_REGCLASS_GPR16:
    case ZYDIS_REGCLASS_GPR32:
    case ZYDIS_REGCLASS_GPR64:
      if (id >= 0 && id < 16) return std::string(kGeneral[size_t(id)]);
      break;
    case ZYDIS_REGCLASS_GPR8:  // al, ah, spl, r8b: the byte registers of the REX encodings are named as the whole
      if (name == "spl" || name == "bpl" || name == "sil" || name == "dil") return upper(name.substr(0, 2));
      if (name.starts_with("r") && name.ends_with("b")) return upper(name.substr(0, name.size() - 1));
      break;
    case ZYDIS_REGCLASS_X87: return "F" + std::to_string(id);
    case ZYDIS_REGCLASS_MMX: return "M" + std::to_string(id);
    case ZYDIS_REGCLASS_XMM: return "X" + std::to_string(id);
    case ZYDIS_REGCLASS_YMM: return "Y" + std::to_string(id);
    case ZYDIS_REGCLASS_ZMM: return "Z" + std::to_string(id);
    case ZYDIS_REGCLASS_MASK: return "K" + std::to_string(id);
    case ZYDIS_REGCLASS_IP: return "IP";
    default: break;
  }
  return upper(name);
}

// x86asm names the condition codes as Intel's manual does first (JA, SETE,
// CMOVNE); Zydis names them by their negation where that is the encoding's
// (jnbe, setz, cmovnz).
std::string go_mnemonic(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops) {
  const char* zydis_name = ZydisMnemonicGetString(insn.mnemonic);
  std::string name = zydis_name ? zydis_name : "?";
  for (std::string_view prefix : {"j", "set", "cmov"}) {
    if (!name.starts_with(prefix)) continue;
    static constexpr std::pair<std::string_view, std::string_view> kConditions[] = {
        {"nbe", "a"}, {"nb", "ae"}, {"z", "e"}, {"nle", "g"}, {"nl", "ge"}, {"nz", "ne"}};
    std::string_view condition = std::string_view(name).substr(prefix.size());
    for (const auto& [zydis, intel] : kConditions) {
      if (condition == zydis) {
        name = std::string(prefix) + std::string(intel);
        break;
      }
    }
    break;
  }
  // The SSE moves and compares of doubles share their names with string
  // instructions; x86asm tells them apart.
  if (insn.mnemonic == ZYDIS_MNEMONIC_MOVSD || insn.mnemonic == ZYDIS_MNEMONIC_CMPSD) {
    for (int i = 0; i < insn.operand_count_visible; ++i)
      if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(ops[i].reg.value) == ZYDIS_REGCLASS_XMM) {
        name += "_xmm";
        break;
      }
  }
  name = upper(name);
  if (std::find(kSuffixed.begin(), kSuffixed.end(), insn.mnemonic) == kSuffixed.end()) return name;
  // x86asm's size: the memory operand's, else the operation's (64 with
  // REX.W, 16 with an operand-size prefix, else 32, whether it works on
  // bytes or not: `TESTL BL, BL`), except for a 64-bit register pushed or
  // popped.
  int bits = insn.raw.rex.W ? 64 : (insn.attributes & ZYDIS_ATTRIB_HAS_OPERANDSIZE) ? 16 : 32;
  bool memory = false;
  for (int i = 0; i < insn.operand_count_visible; ++i) {
    if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[i].mem.type == ZYDIS_MEMOP_TYPE_MEM) {
      bits = ops[i].size;
      memory = true;
    }
  }
  if (!memory && insn.operand_count_visible == 1 && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
      ZydisRegisterGetClass(ops[0].reg.value) == ZYDIS_REGCLASS_GPR64)
    bits = 64;
  switch (bits) {
    case 8: return name + "B";
    case 16: return name + "W";
    case 32: return name + "L";
    case 64: return name + "Q";
    default: return name;
  }
}

// Go's fmt %#x of a signed value: "-0x8".
std::string signed_hex(int64_t value) {
  return value < 0 ? fmt::format("-{:#x}", uint64_t(0) - uint64_t(value)) : fmt::format("{:#x}", value);
}

std::string with_offset(std::string_view name, int64_t offset) {
  return offset == 0 ? std::string(name) : fmt::format("{}{:+d}", name, offset);
}

// The operands x86asm shows for the string instructions Go's compiler
// emits (REP; STOSQ to clear memory, REP; MOVSQ to copy it), in its order.
std::optional<std::pair<std::string_view, std::string_view>> string_operands(ZydisMnemonic mnemonic) {
  switch (mnemonic) {
    case ZYDIS_MNEMONIC_STOSB: return std::pair{"AL", "ES:0(DI)"};
    case ZYDIS_MNEMONIC_STOSW:
    case ZYDIS_MNEMONIC_STOSD:
    case ZYDIS_MNEMONIC_STOSQ: return std::pair{"AX", "ES:0(DI)"};
    case ZYDIS_MNEMONIC_MOVSB:
    case ZYDIS_MNEMONIC_MOVSW:
    case ZYDIS_MNEMONIC_MOVSQ: return std::pair{"DS:0(SI)", "ES:0(DI)"};
    default: return std::nullopt;
  }
}

class GoSyntax {
 public:
  GoSyntax(const GoBinary& binary, const ElfSymbols& symbols) : binary_(binary), symbols_(symbols) {}

  void format(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops,
              DisassembledInstruction* out) const {
    std::string prefix;
    if (insn.attributes & ZYDIS_ATTRIB_HAS_REP) prefix = "REP; ";
    if (insn.attributes & ZYDIS_ATTRIB_HAS_REPNE) prefix = "REPNE; ";
    if (insn.attributes & ZYDIS_ATTRIB_HAS_LOCK) prefix += "LOCK ";
    if (insn.mnemonic == ZYDIS_MNEMONIC_INT3) {  // x86asm decodes it as INT with its implied operand
      out->text = prefix + "INT $0x3";
      return;
    }
    std::vector<std::string> operands;
    int count = insn.operand_count_visible;
    // The multi-byte NOP's register operand means nothing; x86asm leaves it out.
    if (insn.mnemonic == ZYDIS_MNEMONIC_NOP) count = std::min(count, 1);
    for (int i = count - 1; i >= 0; --i) operands.push_back(operand(insn, ops[i], out));
    // x86asm shows the operands of the string moves and stores that Zydis
    // leaves implied.
    if (auto implied = string_operands(insn.mnemonic)) operands = {std::string(implied->first), std::string(implied->second)};
    // x86asm reads a comparison left to right (golang.org/issue/60920).
    if (insn.mnemonic == ZYDIS_MNEMONIC_CMP && operands.size() == 2) std::swap(operands[0], operands[1]);
    out->text = prefix + go_mnemonic(insn, ops);
    for (size_t i = 0; i < operands.size(); ++i) out->text += (i == 0 ? " " : ", ") + operands[i];
  }

 private:
  std::string operand(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand& op,
                      DisassembledInstruction* out) const {
    switch (op.type) {
      case ZYDIS_OPERAND_TYPE_REGISTER: return go_register(op.reg.value);
      case ZYDIS_OPERAND_TYPE_IMMEDIATE: return immediate(insn, op, out);
      case ZYDIS_OPERAND_TYPE_MEMORY: return memory(insn, op, out);
      default: return "?";
    }
  }

  std::string immediate(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand& op,
                        DisassembledInstruction* out) const {
    uint64_t target = 0;
    if (op.imm.is_relative) {
      if (!ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &op, out->address, &target))) return "?";
      // A destination is named only when it is a function's entry: a jump
      // inside a function reads better as the address the listing shows.
      out->referenced = target;
      auto function = binary_.pclntab().function_for_pc(target);
      if (function && function->entry == target) {
        out->referenced_name = std::string(function->name);
        return out->referenced_name + "(SB)";
      }
      return fmt::format("{:#x}", target);
    }
    // x86asm keeps an immediate signed, from its encoded width, except for
    // those of byte operations and the few others it records unsigned
    // (shift counts and the like), which Zydis reports unsigned too; those
    // are never wider than 16 bits.
    int64_t value = op.imm.value.s;
    if (insn.operand_width == 8) {
      value = int64_t(op.imm.value.u & 0xff);
    } else if (!op.imm.is_signed && op.size > 16 && op.size < 64) {
      uint64_t sign = uint64_t(1) << (op.size - 1);
      uint64_t bits = op.imm.value.u & ((sign << 1) - 1);
      value = int64_t((bits ^ sign) - sign);
    } else if (!op.imm.is_signed) {
      value = int64_t(op.imm.value.u);
    }
    if (value == int64_t(int32_t(value))) return "$" + signed_hex(value);
    return fmt::format("${:#x}", uint64_t(value));
  }

  std::string memory(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand& op,
                     DisassembledInstruction* out) const {
    const ZydisDecodedOperandMem& mem = op.mem;
    bool segment = (insn.attributes & (ZYDIS_ATTRIB_HAS_SEGMENT_FS | ZYDIS_ATTRIB_HAS_SEGMENT_GS)) != 0;
    // An address the instruction names outright: x86asm looks up a symbol
    // for one with a displacement and no index.
    if (!segment && mem.disp.value != 0 && mem.index == ZYDIS_REGISTER_NONE &&
        (mem.base == ZYDIS_REGISTER_RIP || mem.base == ZYDIS_REGISTER_NONE))
    {
      uint64_t address = uint64_t(mem.disp.value);
      if (mem.base == ZYDIS_REGISTER_RIP) address = out->address + out->length + uint64_t(mem.disp.value);
      out->referenced = address;
      out->referenced_name = name_of_data(address);
      if (!out->referenced_name.empty()) return out->referenced_name + "(SB)";
    }
    std::string text;
    if (segment) text = go_register(mem.segment) + ":";
    text += mem.disp.value != 0 ? signed_hex(mem.disp.value) : "0";
    if (mem.base != ZYDIS_REGISTER_NONE) text += "(" + go_register(mem.base) + ")";
    if (mem.index != ZYDIS_REGISTER_NONE && mem.scale != 0)
      text += fmt::format("({}*{})", go_register(mem.index), mem.scale);
    return text;
  }

  // A function (by the pclntab, so in a stripped binary too), else a
  // symbol of the .symtab, else a type descriptor; "" for none.
  std::string name_of_data(uint64_t address) const {
    if (auto function = binary_.pclntab().function_for_pc(address))
      return with_offset(function->name, int64_t(address - function->entry));
    if (const ElfSymbol* symbol = symbols_.containing(address))
      return with_offset(symbol->name, int64_t(address - symbol->address));
    if (auto type = binary_.type_name(address)) return "type:" + std::string(*type);
    return "";
  }

  const GoBinary& binary_;
  const ElfSymbols& symbols_;
};

// A function's code from its entry, as Zydis decodes it.
class Code {
 public:
  explicit Code(ByteView bytes) : bytes_(bytes) {
    ZydisDecoderInit(&decoder_, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  }

  // The instruction at `offset`; false, with a length of 1, for bytes that
  // decode to nothing (objdump's "?").
  bool decode(uint64_t offset, ZydisDecodedInstruction* insn, ZydisDecodedOperand* ops) const {
    if (ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder_, bytes_.data() + offset, bytes_.size() - offset, insn, ops)))
      return true;
    insn->length = 1;
    return false;
  }

  // The offsets of the last `count` instructions before `end`, in order,
  // decoding from the entry; empty when no instruction ends at `end`.
  std::deque<uint64_t> last_before(uint64_t end, size_t count) const {
    std::deque<uint64_t> starts;
    uint64_t offset = 0;
    while (offset < end) {
      ZydisDecodedInstruction insn;
      ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
      decode(offset, &insn, ops);
      starts.push_back(offset);
      if (starts.size() > count) starts.pop_front();
      offset += insn.length;
    }
    if (offset != end) starts.clear();
    return starts;
  }

 private:
  ByteView bytes_;
  ZydisDecoder decoder_;
};

// What AllocationTypes reads of the type argument of a call of `callee`.
std::optional<TypeArgument> type_argument(AllocationTypes& types, const GoBinary& binary, const std::string& callee,
                                          uint64_t return_address) {
  auto release = binary.build_info().release();
  auto reg = release ? type_register_of(callee, *release) : std::nullopt;
  if (!reg) return std::nullopt;
  TypeArgument argument;
  std::string_view name = to_string(*reg);  // Go's assembler names RAX AX, and R8 R8
  bool legacy = name.size() == 3 && std::isalpha(static_cast<unsigned char>(name[1]));
  argument.register_name = std::string(legacy ? name.substr(1) : name);
  argument.type = types.type_of(std::span(&return_address, 1), *reg);
  if (argument.type.kind == AllocationType::Kind::kKnown)
    argument.type_name = std::string(binary.type_name(argument.type.type_vaddr).value_or(""));
  return argument;
}

}  // namespace

CallDisassembler::CallDisassembler(const GoBinary& binary)
    : binary_(binary), symbols_(binary.elf()), types_(binary) {}

Result<CallInstructions> CallDisassembler::call_instructions(uint64_t return_address, int before) {
  // A return address is the instruction after the call; the call is before it.
  auto function = return_address > 0 ? binary_.pclntab().function_for_pc(return_address - 1) : std::nullopt;
  if (!function) return make_error("0x{:x}: not a return address in a function of '{}'", return_address, binary_.name());
  uint64_t length = return_address - function->entry;
  if (length > kMaxBytesBeforeCall)
    return make_error("0x{:x}: {} bytes into {}, more than gotrace decodes ({})", return_address, length,
                      function->name, kMaxBytesBeforeCall);
  // To the end of the instruction that holds the return address, when it
  // does not start there, so that the decoder sees that instruction whole.
  constexpr uint64_t kMaxInstructionLength = 15;
  uint64_t end = std::max(std::min(function->end, return_address + kMaxInstructionLength), return_address);
  auto bytes = binary_.elf().bytes_at_vaddr(function->entry, end - function->entry);
  if (!bytes) return make_error("'{}': the code of {} is not in the file", binary_.name(), function->name);
  Code code(*bytes);
  std::deque<uint64_t> starts = code.last_before(length, size_t(std::clamp(before, 0, 1 << 16)) + 1);
  if (starts.empty())
    return make_error("0x{:x}: not a return address in {}: no instruction ends there", return_address,
                      function->name);

  CallInstructions result;
  result.function = std::string(function->name);
  GoSyntax syntax(binary_, symbols_);
  std::vector<Frame> frames;
  for (uint64_t start : starts) {
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    DisassembledInstruction out;
    out.address = function->entry + start;
    bool decoded = code.decode(start, &insn, ops);
    out.length = insn.length;
    if (decoded) {
      syntax.format(insn, ops, &out);
    } else {
      out.text = "?";
    }
    frames.clear();
    if (binary_.symbolize(out.address, false, &frames) == nullptr && !frames.empty()) {
      out.file = std::string(frames.front().file);
      out.line = frames.front().line;
    }
    out.is_call = start == starts.back();
    if (out.is_call && (!decoded || insn.meta.category != ZYDIS_CATEGORY_CALL))
      return make_error("0x{:x}: not a return address in {}: the instruction before it is {}", return_address,
                        function->name, out.text);
    // A direct call's callee; "" when no function starts where it goes.
    if (out.is_call && insn.operand_count_visible > 0 && ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
      result.callee = out.referenced_name;
    result.instructions.push_back(std::move(out));
  }
  result.type_argument = type_argument(types_, binary_, result.callee, return_address);
  return result;
}

}  // namespace gotrace
