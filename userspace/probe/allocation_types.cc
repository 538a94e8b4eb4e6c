#include "userspace/probe/allocation_types.h"

#include <Zydis/Zydis.h>

#include <algorithm>
#include <array>
#include <bit>
#include <unordered_set>
#include <vector>

#include "userspace/probe/probe_site.h"

namespace gotrace {
namespace {

constexpr std::array<ZydisRegister, kArgumentRegisterCount> kZydisRegisters = {
    ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RBX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_RSI,
    ZYDIS_REGISTER_R8,  ZYDIS_REGISTER_R9,  ZYDIS_REGISTER_R10, ZYDIS_REGISTER_R11};
constexpr uint16_t kAllRegisters = (1u << kArgumentRegisterCount) - 1;

constexpr size_t kMaxVisits = 4096;  // (instruction, register) pairs searched for one call site

// The argument register `reg` is, or is part of (EBX is RBX's low half).
std::optional<ArgumentRegister> argument_register(ZydisRegister reg) {
  ZydisRegister full = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg);
  for (int i = 0; i < kArgumentRegisterCount; ++i)
    if (kZydisRegisters[i] == full) return ArgumentRegister(i);
  return std::nullopt;
}

uint16_t bit(ArgumentRegister reg) { return uint16_t(1u << int(reg)); }

// How control leaves an instruction.
enum class Flow : uint8_t {
  kNext,        // on to the next instruction only
  kBranch,      // a conditional jump: to `target` or the next instruction
  kJump,        // to `target` only
  kCall,        // a call: back to the next instruction, every register clobbered
  kNowhere,     // a return, a trap, a jump out of the function: not to the next instruction
  kTable,       // an indirect jump: through a jump table, to the addresses it holds
};

// What an instruction that writes exactly one argument register leaves in it.
enum class Value : uint8_t {
  kOther,        // anything the analysis does not follow
  kAddress,      // LEAQ disp(RIP), reg: `address`
  kNil,          // XOR reg, reg or MOV $0, reg (32-bit writes zero the upper half)
  kCopy,         // MOVQ source, reg: whatever `source` held
};

struct Instruction {
  uint32_t offset = 0;  // from the function's entry
  uint8_t length = 0;
  Flow flow = Flow::kNext;
  Value value = Value::kOther;
  ArgumentRegister source = ArgumentRegister::kRax;  // for kCopy
  uint16_t writes = 0;   // argument registers written, one bit each
  uint64_t target = 0;   // link-time address: a jump's destination, or kAddress's address
  ZydisRegister table = ZYDIS_REGISTER_NONE;  // kTable: the register holding the table's address
  ZydisRegister table_index = ZYDIS_REGISTER_NONE;  // kTable: the register indexing it
  ZydisRegister compared = ZYDIS_REGISTER_NONE;  // CMP compared, $bound
  uint64_t bound = 0;
  bool nop = false;
  ZydisRegister lea_register = ZYDIS_REGISTER_NONE;  // any register LEAQ disp(RIP) loads `lea_address` into
  uint64_t lea_address = 0;
  uint32_t end() const { return offset + length; }
};

bool is_register(const ZydisDecodedOperand& op) { return op.type == ZYDIS_OPERAND_TYPE_REGISTER; }

// What the instruction leaves in the one argument register it writes, from
// its visible operands (destination first in Zydis's order).
void classify_value(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops, uint64_t address,
                    Instruction* out) {
  if (insn.operand_count_visible != 2 || !is_register(ops[0])) return;
  const ZydisDecodedOperand& dst = ops[0];
  const ZydisDecodedOperand& src = ops[1];
  bool wide = dst.size >= 32;  // a narrower write keeps the rest of the old value
  switch (insn.mnemonic) {
    case ZYDIS_MNEMONIC_LEA:
      if (dst.size == 64 && src.type == ZYDIS_OPERAND_TYPE_MEMORY && src.mem.base == ZYDIS_REGISTER_RIP &&
          src.mem.index == ZYDIS_REGISTER_NONE &&
          ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &src, address, &out->target)))
        out->value = Value::kAddress;
      break;
    case ZYDIS_MNEMONIC_XOR:
    case ZYDIS_MNEMONIC_SUB:
      if (wide && is_register(src) && src.reg.value == dst.reg.value) out->value = Value::kNil;
      break;
    case ZYDIS_MNEMONIC_MOV:
      if (wide && src.type == ZYDIS_OPERAND_TYPE_IMMEDIATE && src.imm.value.u == 0) {
        out->value = Value::kNil;
      } else if (dst.size == 64 && is_register(src) && src.size == 64) {
        if (auto from = argument_register(src.reg.value)) {
          out->value = Value::kCopy;
          out->source = *from;
        }
      }
      break;
    default:
      break;
  }
}

Flow flow_of(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops, uint64_t address,
             uint64_t* target) {
  bool direct = insn.operand_count_visible >= 1 && ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
                ops[0].imm.is_relative && ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &ops[0], address, target));
  switch (insn.meta.category) {
    case ZYDIS_CATEGORY_CALL: return Flow::kCall;
    case ZYDIS_CATEGORY_RET: return Flow::kNowhere;
    case ZYDIS_CATEGORY_UNCOND_BR: return direct ? Flow::kJump : Flow::kTable;
    case ZYDIS_CATEGORY_COND_BR: return direct ? Flow::kBranch : Flow::kNowhere;
    default: break;
  }
  ZydisMnemonic m = insn.mnemonic;
  bool traps = m == ZYDIS_MNEMONIC_INT3 || m == ZYDIS_MNEMONIC_UD0 || m == ZYDIS_MNEMONIC_UD1 ||
               m == ZYDIS_MNEMONIC_UD2 || m == ZYDIS_MNEMONIC_HLT;
  return traps ? Flow::kNowhere : Flow::kNext;
}

Instruction describe(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops, uint64_t entry,
                     uint32_t offset) {
  Instruction out;
  out.offset = offset;
  out.length = insn.length;
  uint64_t address = entry + offset;
  out.flow = flow_of(insn, ops, address, &out.target);
  // Go's jump tables: LEAQ table(SB), R; JMP (R)(index*8).
  if (out.flow == Flow::kTable && ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[0].mem.scale == 8 &&
      ops[0].mem.disp.value == 0)
  {
    out.table = ops[0].mem.base;
    out.table_index = ops[0].mem.index;
  }
  if (insn.mnemonic == ZYDIS_MNEMONIC_CMP && insn.operand_count_visible == 2 && is_register(ops[0]) &&
      ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
    out.compared = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, ops[0].reg.value);
    out.bound = ops[1].imm.value.u;
  }
  if (out.flow == Flow::kCall) {
    out.writes = kAllRegisters;  // every register is caller-saved in Go's ABI
    return out;
  }
  out.nop = insn.mnemonic == ZYDIS_MNEMONIC_NOP;
  if (insn.mnemonic == ZYDIS_MNEMONIC_LEA && insn.operand_count_visible == 2 && is_register(ops[0]) &&
      ops[1].mem.base == ZYDIS_REGISTER_RIP && ops[1].mem.index == ZYDIS_REGISTER_NONE &&
      ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &ops[1], address, &out.lea_address)))
    out.lea_register = ops[0].reg.value;
  for (int i = 0; i < insn.operand_count; ++i) {  // hidden operands too (MUL's RDX, SYSCALL's RCX and R11)
    if (!is_register(ops[i]) || !(ops[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) continue;
    if (auto reg = argument_register(ops[i].reg.value)) out.writes |= bit(*reg);
  }
  if (std::has_single_bit(out.writes)) {
    uint64_t jump_target = out.target;
    classify_value(insn, ops, address, &out);
    if (out.value != Value::kAddress) out.target = jump_target;
  }
  return out;
}

}  // namespace

std::string_view to_string(ArgumentRegister reg) {
  static constexpr std::array<std::string_view, kArgumentRegisterCount> kNames = {
      "RAX", "RBX", "RCX", "RDI", "RSI", "R8", "R9", "R10", "R11"};
  return kNames[size_t(reg)];
}

std::optional<ArgumentRegister> type_register_of(std::string_view function, const GoRelease& release) {
  if (function.starts_with("runtime.mallocgc")) return ArgumentRegister::kRbx;
  if (function.starts_with("runtime.growslice"))  // growsliceNoAlias, growsliceBuf, ... from Go 1.26
    return release.at_least(1, 20) ? ArgumentRegister::kRsi : ArgumentRegister::kRax;
  for (std::string_view typ_first : {"runtime.newobject", "runtime.newarray", "runtime.makeslice",
                                     "runtime.makeslice64", "runtime.makeslicecopy", "reflect.unsafe_New",
                                     "reflect.unsafe_NewArray"}) {
    if (function == typ_first) return ArgumentRegister::kRax;
  }
  return std::nullopt;
}

// One function's code, decoded from its entry to its end, with where its
// direct jumps land.
class AllocationTypes::FunctionCode {
 public:
  static std::unique_ptr<FunctionCode> decode(const GoBinary& binary, const FunctionInfo& function);

  uint64_t entry() const { return entry_; }
  uint64_t end() const { return end_; }
  // The call instruction that ends at `return_address`, if there is one.
  std::optional<uint32_t> call_ending_at(uint64_t return_address) const;
  // What the code says `reg` holds when instruction `index` starts.
  CallSiteAnswer value_at(uint32_t index, ArgumentRegister reg, const GoBinary& binary) const;

 private:
  void add_jump(uint32_t from, uint64_t target);
  void add_table_jumps(uint32_t from, const GoBinary& binary);

  uint64_t entry_ = 0, end_ = 0;
  std::vector<Instruction> instructions_;  // by offset
  std::unordered_map<uint32_t, std::vector<uint32_t>> jumps_to_;  // by target offset: the jumps' indexes
  // The stack-growth path at the end of a function reloads the arguments and
  // jumps back to the entry: those jumps bring in the same arguments.
  bool reenters_with_arguments_ = false;
  // A jump table (Go 1.19+ compiles large switches into them) whose
  // entries could not be read: the search cannot see all the ways in.
  bool unreadable_table_ = false;
};

std::unique_ptr<AllocationTypes::FunctionCode> AllocationTypes::FunctionCode::decode(const GoBinary& binary,
                                                                                   const FunctionInfo& function) {
  if (function.end <= function.entry || function.end - function.entry > kMaxFunctionBytes) return nullptr;
  auto bytes = binary.elf().bytes_at_vaddr(function.entry, function.end - function.entry);
  if (!bytes) return nullptr;
  auto code = std::make_unique<FunctionCode>();
  code->entry_ = function.entry;
  code->end_ = function.end;
  code->reenters_with_arguments_ = bool(find_probed_instruction(function.name, *bytes, function.entry));
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  uint32_t offset = 0;
  while (offset < bytes->size()) {
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    Instruction described;
    if (ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, bytes->data() + offset, bytes->size() - offset, &insn, ops))) {
      described = describe(insn, ops, function.entry, offset);
    } else {  // not code: a barrier that leaves nothing known
      described = Instruction{.offset = offset, .length = 1, .flow = Flow::kNowhere, .writes = kAllRegisters};
    }
    code->instructions_.push_back(described);
    offset += described.length;
  }
  for (uint32_t i = 0; i < code->instructions_.size(); ++i) {
    const Instruction& insn = code->instructions_[i];
    if (insn.flow == Flow::kJump || insn.flow == Flow::kBranch) code->add_jump(i, insn.target);
    if (insn.flow == Flow::kTable) code->add_table_jumps(i, binary);
  }
  return code;
}

void AllocationTypes::FunctionCode::add_jump(uint32_t from, uint64_t target) {
  if (target < entry_ || target >= end_) return;  // a tail call, or garbage
  if (target == entry_ && reenters_with_arguments_) return;
  jumps_to_[uint32_t(target - entry_)].push_back(from);
}

// The jump table's address comes from the LEAQ right before the jump, and
// its length from the bounds check a few instructions before (CMPQ index,
// $last; JA default), as Go's compiler emits them; its entries are the
// addresses of the cases. A PIE's table is filled in by the dynamic loader:
// a table not read leaves the function unknown.
void AllocationTypes::FunctionCode::add_table_jumps(uint32_t from, const GoBinary& binary) {
  constexpr uint32_t kLookBack = 8;
  const Instruction& jump = instructions_[from];
  std::optional<uint64_t> table;
  uint32_t lea = from;
  while (lea > 0 && instructions_[lea - 1].nop) --lea;  // alignment padding before the jump
  if (lea > 0 && jump.table != ZYDIS_REGISTER_NONE && instructions_[lea - 1].lea_register == jump.table)
    table = instructions_[lea - 1].lea_address;
  uint64_t max_cases = 0;
  ZydisRegister index = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, jump.table_index);
  for (uint32_t i = from; index != ZYDIS_REGISTER_NONE && i > 0 && from - i < kLookBack && !max_cases; --i)
    if (instructions_[i - 1].compared == index && instructions_[i - 1].bound < 4096)
      max_cases = instructions_[i - 1].bound + 1;
  uint64_t cases = 0;
  for (; table && cases < max_cases; ++cases) {
    auto entry = binary.elf().bytes_at_vaddr(*table + cases * 8, 8);
    auto target = entry ? entry->read<uint64_t>(0) : std::nullopt;
    if (!target || *target < entry_ || *target >= end_) break;
    add_jump(from, *target);
  }
  if (cases == 0 || cases < max_cases) unreadable_table_ = true;
}

std::optional<uint32_t> AllocationTypes::FunctionCode::call_ending_at(uint64_t return_address) const {
  if (return_address <= entry_ || return_address > end_) return std::nullopt;
  uint64_t end = return_address - entry_;
  auto it = std::lower_bound(instructions_.begin(), instructions_.end(), end,
                             [](const Instruction& insn, uint64_t e) { return insn.end() < e; });
  if (it == instructions_.end() || it->end() != end || it->flow != Flow::kCall) return std::nullopt;
  return uint32_t(it - instructions_.begin());
}

namespace {

// Where the paths into a call agree, and whether they still do.
class Agreement {
 public:
  void add(const AllocationTypes::CallSiteAnswer& answer) {
    if (!first_) {
      first_ = answer;
    } else if (!(first_->type == answer.type && first_->argument == answer.argument)) {
      first_ = unknown();
    }
  }
  bool unknown_already() const {
    return first_ && !first_->argument && first_->type.kind == AllocationType::Kind::kUnknown;
  }
  AllocationTypes::CallSiteAnswer result() const { return first_.value_or(unknown()); }
  static AllocationTypes::CallSiteAnswer unknown() { return {}; }

 private:
  std::optional<AllocationTypes::CallSiteAnswer> first_;
};

}  // namespace

// A search backwards from the call over the ways into each instruction (the
// one before it, unless that one does not go on; the jumps to it), for the
// instructions that wrote the register last. Each (instruction, register) is
// visited once: a loop brings back a value already on its way, and every
// transfer is a copy, so the meet of the values found is the answer.
AllocationTypes::CallSiteAnswer AllocationTypes::FunctionCode::value_at(uint32_t index, ArgumentRegister reg,
                                                                          const GoBinary& binary) const {
  if (unreadable_table_) return Agreement::unknown();
  struct Node {
    uint32_t index;
    ArgumentRegister reg;
  };
  std::vector<Node> work{{index, reg}};
  std::unordered_set<uint64_t> seen;
  Agreement agreement;
  std::vector<uint32_t> ways_in;
  while (!work.empty() && !agreement.unknown_already()) {
    Node node = work.back();
    work.pop_back();
    if (!seen.insert(uint64_t(node.index) * kArgumentRegisterCount + uint64_t(node.reg)).second) continue;
    if (seen.size() > kMaxVisits) return Agreement::unknown();
    ways_in.clear();
    if (node.index > 0) {
      const Instruction& before = instructions_[node.index - 1];
      if (before.flow != Flow::kJump && before.flow != Flow::kNowhere && before.flow != Flow::kTable)
        ways_in.push_back(node.index - 1);
    } else {
      agreement.add({AllocationType{}, node.reg});  // the function's own argument
    }
    if (auto it = jumps_to_.find(instructions_[node.index].offset); it != jumps_to_.end())
      ways_in.insert(ways_in.end(), it->second.begin(), it->second.end());
    if (ways_in.empty() && node.index > 0) return Agreement::unknown();  // reached only in ways not seen
    for (uint32_t way : ways_in) {
      const Instruction& insn = instructions_[way];
      if (!(insn.writes & bit(node.reg))) {
        work.push_back({way, node.reg});
      } else if (insn.writes != bit(node.reg)) {
        agreement.add(Agreement::unknown());  // a call, or an instruction that writes several
      } else if (insn.value == Value::kCopy) {
        work.push_back({way, insn.source});
      } else if (insn.value == Value::kNil) {
        agreement.add({AllocationType{AllocationType::Kind::kUntyped, 0}, std::nullopt});
      } else if (insn.value == Value::kAddress && binary.type_name(insn.target)) {
        agreement.add({AllocationType{AllocationType::Kind::kKnown, insn.target}, std::nullopt});
      } else {
        agreement.add(Agreement::unknown());
      }
    }
  }
  return agreement.result();
}

AllocationTypes::AllocationTypes(const GoBinary& binary) : binary_(binary) {}
AllocationTypes::~AllocationTypes() = default;

AllocationType AllocationTypes::type_of(std::span<const uint64_t> return_addresses, ArgumentRegister type_register) {
  ArgumentRegister reg = type_register;
  for (size_t frame = 0; frame < return_addresses.size() && frame < kMaxFramesFollowed; ++frame) {
    CallSiteAnswer answer = at_call(return_addresses[frame], reg);
    if (!answer.argument) return answer.type;
    reg = *answer.argument;
  }
  return AllocationType{};
}

const AllocationTypes::FunctionCode* AllocationTypes::code_of(uint64_t return_address) {
  // A return address is the instruction after the call; the call is before it.
  auto function = binary_.pclntab().function_for_pc(return_address - 1);
  if (!function) return nullptr;
  if (!last_function_ || last_function_->entry() != function->entry) {
    last_function_ = FunctionCode::decode(binary_, *function);
  }
  return last_function_.get();
}

AllocationTypes::CallSiteAnswer AllocationTypes::at_call(uint64_t return_address, ArgumentRegister reg) {
  constexpr size_t kMaxAnswers = 1 << 20;
  // The low bits of a return address vary the most; the register goes in
  // the top ones, where two return addresses of one binary never differ.
  uint64_t key = return_address ^ (uint64_t(reg) << 56);
  if (auto it = answers_.find(key); it != answers_.end() && it->second.return_address == return_address)
    return it->second.answer;
  CallSiteAnswer answer;
  if (const FunctionCode* code = code_of(return_address)) {
    if (auto call = code->call_ending_at(return_address)) answer = code->value_at(*call, reg, binary_);
  }
  if (answers_.size() >= kMaxAnswers) answers_.clear();
  answers_[key] = {return_address, answer};
  return answer;
}

}  // namespace gotrace
