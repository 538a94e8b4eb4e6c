#include "userspace/probe/heap_profiler_hooks.h"

#include <Zydis/Zydis.h>

#include <algorithm>
#include <array>

#include "userspace/probe/mem_profile_rate.h"

namespace gotrace {
namespace {

constexpr std::string_view kProfileAlloc = "runtime.profilealloc";
constexpr std::string_view kFreeSpecial = "runtime.freeSpecial";
constexpr std::string_view kProfileFlush = "runtime.mProf_Flush";

// runtime/mheap.go, `type special struct { next *special; offset uint16
// (uintptr from 1.24); kind byte }` and the _KindSpecial* constants, read in
// the sources of each release (1.17.13, 1.18.10, 1.19.8, 1.20.14, 1.21.13,
// 1.22.12, 1.23.12, 1.24.13, 1.25.14, 1.26.8, 1.27.4); tests/fixture checks
// the offset against runtime.freeSpecial's code on every build of the
// matrix. sys.NotInHeap, the first field from 1.20, takes no space.
constexpr std::array<SpecialLayout, 4> kSpecialLayouts = {{
    {{1, 17, 0}, 10, 2},  // Finalizer 1, Profile 2; kind after next (8) and offset (uint16)
    {{1, 23, 0}, 10, 3},  // _KindSpecialWeakHandle = 2 came before Profile
    {{1, 24, 0}, 16, 3},  // offset became a uintptr
    {{1, 25, 0}, 16, 4},  // _KindSpecialTinyBlock = 1 came first
}};
// The newest release whose sources the table was read from.
constexpr GoRelease kLayoutsReadUpTo{1, 27, 0};

// How far into runtime.freeSpecial its first read of s.kind (its switch on
// the kind) is looked for: a few instructions after the prologue in every
// release.
constexpr uint64_t kKindReadSearchBytes = 64;

// The offset of the first byte freeSpecial reads through its first
// argument, s (RAX in the register ABI), from the probed instruction on.
std::optional<int64_t> first_byte_read_through_rax(const GoBinary& binary, const ProbeSite& site,
                                                   const FunctionInfo& function) {
  if (site.vaddr < function.entry || site.vaddr >= function.end) return std::nullopt;
  auto code = binary.elf().bytes_at_vaddr(site.vaddr, std::min(function.end - site.vaddr, kKindReadSearchBytes));
  if (!code) return std::nullopt;
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  uint64_t offset = 0;
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
  while (offset < code->size() &&
         ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, code->data() + offset, code->size() - offset, &insn, operands))) {
    offset += insn.length;
    if (insn.meta.category == ZYDIS_CATEGORY_CALL) return std::nullopt;  // RAX is the callee's from here
    for (int i = 0; i < insn.operand_count_visible; ++i) {
      const ZydisDecodedOperand& op = operands[i];
      if (op.type == ZYDIS_OPERAND_TYPE_MEMORY && op.mem.type == ZYDIS_MEMOP_TYPE_MEM &&
          op.mem.base == ZYDIS_REGISTER_RAX && op.mem.index == ZYDIS_REGISTER_NONE && op.size == 8 &&
          (op.actions & ZYDIS_OPERAND_ACTION_MASK_READ))
        return op.mem.disp.has_displacement ? op.mem.disp.value : 0;
    }
    // s leaves RAX: what follows reads something else.
    for (int i = 0; i < insn.operand_count_visible; ++i) {
      const ZydisDecodedOperand& op = operands[i];
      if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && (op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
          ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, op.reg.value) == ZYDIS_REGISTER_RAX)
        return std::nullopt;
    }
  }
  return std::nullopt;
}

// The probe site of a function the runtime must have for --heap.
Result<std::pair<ProbeSite, FunctionInfo>> hook_site(const GoBinary& binary, std::string_view name,
                                                     std::string_view if_missing) {
  auto function = binary.find_function(name);
  if (!function) return make_error("'{}': no {} ({})", binary.name(), name, if_missing);
  auto site = find_probe_site(binary, *function);
  if (!site) return site.error();
  return std::pair{std::move(*site), std::move(*function)};
}

}  // namespace

std::optional<SpecialLayout> special_layout_for(GoRelease release) {
  std::optional<SpecialLayout> found;
  for (const SpecialLayout& layout : kSpecialLayouts)
    if (!(release < layout.since)) found = layout;
  return found;
}

Result<HeapProfilerHooks> find_heap_profiler_hooks(const GoBinary& binary) {
  auto release = binary.build_info().release();
  if (!release)
    return make_error("'{}': no heap profiler hooks: the Go release is unknown (no build info), and with it the "
                      "layout of the runtime's special records",
                      binary.name());
  auto layout = special_layout_for(*release);
  if (!layout)
    return make_error("'{}': no heap profiler hooks: built by {}, older than go1.17", binary.name(),
                      binary.build_info().go_version);
  auto sample = hook_site(binary, kProfileAlloc, "heap profiling compiled out, or the function inlined");
  if (!sample) return sample.error();
  auto free = hook_site(binary, kFreeSpecial, "the runtime's sweeper does not free special records through it");
  if (!free) return free.error();
  auto cycle = hook_site(binary, kProfileFlush, "the runtime does not publish its heap profile's cycles through it");
  if (!cycle) return cycle.error();
  auto rate = find_mem_profile_rate(binary);
  if (!rate) return rate.error();

  auto kind_read = first_byte_read_through_rax(binary, free->first, free->second);
  if (!kind_read || *kind_read != int64_t(layout->kind_offset))
    return make_error("'{}': {} does not read runtime.special.kind at offset {}, as {}'s layout has it ({}); the "
                      "runtime's special records are laid out differently",
                      binary.name(), kFreeSpecial, layout->kind_offset, binary.build_info().go_version,
                      kind_read ? fmt::format("its first byte read of s is at offset {}", *kind_read)
                                : std::string("no byte read of s found after its prologue"));

  bool newer = release->major > kLayoutsReadUpTo.major ||
               (release->major == kLayoutsReadUpTo.major && release->minor > kLayoutsReadUpTo.minor);
  std::string layout_text =
      fmt::format("special.kind at offset {} (as {} reads it), _KindSpecialProfile = {} (the layout of go{}.{} on{})",
                  layout->kind_offset, kFreeSpecial, layout->profile_kind, layout->since.major, layout->since.minor,
                  newer ? fmt::format(", read up to go{}.{}", kLayoutsReadUpTo.major, kLayoutsReadUpTo.minor) : "");
  HeapProfilerHooks hooks;
  hooks.sample = std::move(sample->first);
  hooks.free = std::move(free->first);
  hooks.cycle = std::move(cycle->first);
  hooks.mem_profile_rate = rate->vaddr;
  hooks.special_kind_offset = layout->kind_offset;
  hooks.special_profile_kind = layout->profile_kind;
  hooks.how_found = fmt::format("MemProfileRate {}; {}", rate->how_found, layout_text);
  return hooks;
}

}  // namespace gotrace
