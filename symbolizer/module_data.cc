#include "symbolizer/module_data.h"

#include <algorithm>

namespace gotrace {
namespace {

// Byte offsets of the fields we read, per runtime/symtab.go (amd64).
struct Layout {
  uint64_t types, etypes;
  std::optional<uint64_t> gofunc;
};
constexpr uint64_t kText = 176;  // text, etext: the same in every supported release
constexpr uint64_t kEtext = 184;
constexpr Layout kGo116{280, 288, std::nullopt};  // 1.16–1.17
constexpr Layout kGo118{280, 288, 304};           // 1.18–1.19
constexpr Layout kGo120{296, 304, 320};           // 1.20–1.26 (1.26 appends epclntab after gofunc)
constexpr Layout kGo127{296, 312, 344};           // 1.27: typedesclen, itaboffset, itabsize added
constexpr uint64_t kModuleDataReadSize = 360;

bool in_segment(const ElfFile& elf, uint64_t vaddr) { return elf.segment_for_vaddr(vaddr) != nullptr; }

std::optional<ModuleData> read_layout(const ElfFile& elf, uint64_t vaddr, ByteView fields, const Layout& layout) {
  ModuleData md;
  md.vaddr = vaddr;
  md.text = fields.read_unchecked<uint64_t>(kText);
  md.etext = fields.read_unchecked<uint64_t>(kEtext);
  md.types = fields.read_unchecked<uint64_t>(layout.types);
  md.etypes = fields.read_unchecked<uint64_t>(layout.etypes);
  if (layout.gofunc) md.gofunc = fields.read_unchecked<uint64_t>(*layout.gofunc);
  const ElfSegment* text_segment = elf.segment_for_vaddr(md.text);
  if (text_segment == nullptr || !text_segment->executable() || md.etext < md.text) return std::nullopt;
  if (md.etypes <= md.types || !in_segment(elf, md.types) || !in_segment(elf, md.etypes - 1)) return std::nullopt;
  if (md.gofunc && !in_segment(elf, *md.gofunc)) return std::nullopt;
  return md;
}

}  // namespace

std::optional<ModuleData> find_module_data(const ElfFile& elf, uint64_t pclntab_vaddr,
                                           uint64_t funcnametab_offset, PclntabFormat format,
                                           std::optional<GoRelease> release) {
  std::vector<const Layout*> layouts;
  switch (format) {
    case PclntabFormat::kGo116: layouts = {&kGo116}; break;
    case PclntabFormat::kGo118: layouts = {&kGo118}; break;
    case PclntabFormat::kGo120:
      if (release && release->at_least(1, 27)) layouts = {&kGo127};
      else if (release) layouts = {&kGo120};
      else layouts = {&kGo127, &kGo120};  // unknown release: the first that validates
      break;
  }
  // PT_LOAD segments may overlap in a hostile file: scan at most as many
  // bytes as the file has, however many segments map them.
  uint64_t budget = elf.bytes().size();
  for (const ElfSegment& segment : elf.load_segments()) {
    if (!segment.writable()) continue;
    auto data = elf.bytes().subview(segment.offset, segment.filesz);
    if (!data) continue;
    uint64_t limit = std::min(data->size(), budget);
    budget -= limit;
    for (uint64_t off = (8 - segment.vaddr % 8) % 8; off < limit && off + kModuleDataReadSize <= data->size();
         off += 8) {
      if (data->read_unchecked<uint64_t>(off) != pclntab_vaddr) continue;
      if (data->read_unchecked<uint64_t>(off + 8) != pclntab_vaddr + funcnametab_offset) continue;
      ByteView fields = *data->subview(off, kModuleDataReadSize);
      for (const Layout* layout : layouts) {
        if (auto md = read_layout(elf, segment.vaddr + off, fields, *layout)) return md;
      }
    }
  }
  return std::nullopt;
}

}  // namespace gotrace
