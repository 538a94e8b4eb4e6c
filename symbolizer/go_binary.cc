#include "symbolizer/go_binary.h"

#include <algorithm>

namespace gotrace {
namespace {

// Whether `text` is UTF-8 without control characters, as a Go type's name
// is (bytes that are not, such as a constant's, make no name).
bool is_printable_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    uint8_t lead = uint8_t(text[i++]);
    if (lead < 0x80) {
      if (lead < 0x20 || lead == 0x7f) return false;
      continue;
    }
    size_t continuation = lead >= 0xc2 && lead <= 0xdf ? 1 : lead >= 0xe0 && lead <= 0xef ? 2
                        : lead >= 0xf0 && lead <= 0xf4 ? 3 : 0;
    if (continuation == 0 || text.size() - i < continuation) return false;
    for (; continuation > 0; --continuation)
      if ((uint8_t(text[i++]) & 0xc0) != 0x80) return false;
  }
  return true;
}

struct PclntabCandidate {
  ByteView bytes;
  uint64_t vaddr;
};

// pcHeaders by section name: internal linking puts the table in its own section.
std::optional<PclntabCandidate> pclntab_from_sections(const ElfFile& elf) {
  for (std::string_view name : {".gopclntab", ".data.rel.ro.gopclntab"}) {
    const ElfSection* section = elf.section(name);
    if (section == nullptr) continue;
    if (auto bytes = elf.section_bytes(*section)) return PclntabCandidate{*bytes, section->addr};
  }
  return std::nullopt;
}

// Every 8-aligned place in a loaded segment that starts with a pcHeader
// signature, in file order. External linking merges the table into
// .data.rel.ro, and packed binaries have no section headers at all.
// Each candidate costs a scan of the data for its module data, so a hostile
// file full of signatures (or of PT_LOAD segments mapping the same bytes)
// must not yield many: at most kMaxScanCandidates, from at most as many
// bytes as the file has.
std::vector<PclntabCandidate> pclntab_by_scan(const ElfFile& elf, bool* legacy_seen) {
  constexpr size_t kMaxScanCandidates = 64;
  std::vector<PclntabCandidate> found;
  uint64_t budget = elf.bytes().size();
  for (const ElfSegment& segment : elf.load_segments()) {
    auto data = elf.bytes().subview(segment.offset, segment.filesz);
    if (!data) continue;
    uint64_t limit = std::min(data->size(), budget);
    budget -= limit;
    for (uint64_t off = (8 - segment.vaddr % 8) % 8; off + 64 <= limit; off += 8) {
      uint8_t first = data->data()[off];
      if (first != 0xf1 && first != 0xf0 && first != 0xfa && first != 0xfb) continue;
      ByteView rest = data->tail(off);
      if (Pclntab::has_signature(rest)) {
        found.push_back({rest, segment.vaddr + off});
        if (found.size() == kMaxScanCandidates) return found;
      } else if (Pclntab::has_legacy_signature(rest)) {
        *legacy_seen = true;
      }
    }
  }
  return found;
}

}  // namespace

Result<std::unique_ptr<GoBinary>> GoBinary::open(const std::string& path, std::string display_name) {
  auto elf = ElfFile::open(path, std::move(display_name));
  if (!elf) return elf.error();
  return from_elf(std::move(*elf));
}

Result<std::unique_ptr<GoBinary>> GoBinary::from_elf(std::unique_ptr<ElfFile> elf) {
  std::unique_ptr<GoBinary> binary(new GoBinary());
  const std::string& name = elf->name();
  auto build_info = read_build_info(*elf);

  std::vector<PclntabCandidate> candidates;
  bool legacy_seen = false;
  if (auto by_section = pclntab_from_sections(*elf)) {
    if (Pclntab::has_legacy_signature(by_section->bytes)) legacy_seen = true;
    else candidates.push_back(*by_section);
  }
  if (candidates.empty()) {
    candidates = pclntab_by_scan(*elf, &legacy_seen);
    binary->pclntab_found_by_scan_ = true;
  }
  if (candidates.empty()) {
    if (legacy_seen)
      return make_error("'{}': Go binary older than Go 1.16 (pclntab format go1.2) is not supported", name);
    if (!build_info) return make_error("'{}': not a Go binary (no pclntab or Go build information found)", name);
    return make_error("'{}': corrupt Go binary (no pclntab found)", name);
  }
  std::optional<GoRelease> release;
  if (build_info) {
    release = build_info->release();
    if (release && *release < kOldestSupportedRelease)
      return make_error("'{}': {} is older than Go 1.16, which is the oldest supported", name,
                        build_info->go_version);
  }

  // Take the first candidate that parses; prefer one that the module data
  // points at, since a stray signature in data cannot have one.
  std::optional<Error> first_error;
  for (int pass = 0; pass < 2 && !binary->pclntab_; ++pass) {
    for (const PclntabCandidate& candidate : candidates) {
      auto header = Pclntab::peek_header(candidate.bytes);
      if (!header) continue;
      auto md = find_module_data(*elf, candidate.vaddr, header->funcnametab_offset, header->format, release);
      if (pass == 0 && !md) continue;
      PclntabLocation location{candidate.bytes, candidate.vaddr, std::nullopt, std::nullopt};
      if (md) {
        location.text_start = md->text;
        location.gofunc = md->gofunc;
      }
      const ElfFile* elf_ptr = elf.get();
      auto table = Pclntab::parse(location, [elf_ptr](uint64_t vaddr) { return elf_ptr->bytes_from_vaddr(vaddr); },
                                  name);
      if (!table) {
        if (!first_error) first_error = table.error();
        continue;
      }
      binary->pclntab_ = std::move(*table);
      binary->module_data_ = md;
      binary->pclntab_vaddr_ = candidate.vaddr;
      break;
    }
  }
  if (!binary->pclntab_) return first_error ? *first_error : make_error("'{}': corrupt pclntab", name);
  if (!build_info) return build_info.error();  // a pclntab without build info: too old or damaged
  binary->build_info_ = std::move(*build_info);
  binary->elf_ = std::move(elf);
  return binary;
}

std::optional<uint8_t> GoBinary::wrapper_func_id() const {
  auto switch_function = pclntab_->find_function("runtime.systemstack_switch");
  if (!switch_function) return std::nullopt;
  auto id = pclntab_->func_id(*switch_function);
  if (!id || *id == 0 || *id == 0xff) return std::nullopt;
  return uint8_t(*id + 1);
}

bool GoBinary::prints_elided_type_parameters() const {
  auto release = build_info_.release();
  return release && release->at_least(1, 21);
}

std::string_view function_name_for_print(std::string_view name, std::string* storage) {
  size_t open = name.find('[');
  size_t close = name.rfind(']');
  if (open == std::string_view::npos || close == std::string_view::npos || close <= open) return name;
  *storage = std::string(name.substr(0, open)) + "[...]" + std::string(name.substr(close + 1));
  return *storage;
}

std::optional<std::string_view> GoBinary::type_name(uint64_t type_vaddr) const {
  // runtime._type / internal/abi.Type: Size_ u64 @0, PtrBytes u64 @8, TFlag
  // u8 @20, Align_ u8 @21, FieldAlign_ u8 @22, Kind_ u8 @23, Str NameOff
  // (int32) @40. The name is a runtime.name: a flags byte, the length
  // (uvarint since Go 1.17, big-endian uint16 before), then the bytes.
  if (!module_data_) return std::nullopt;
  const ModuleData& md = *module_data_;
  if (type_vaddr < md.types || type_vaddr >= md.etypes) return std::nullopt;
  auto type = elf_->bytes_at_vaddr(type_vaddr, 48);
  if (!type) return std::nullopt;
  // [types, etypes) holds more than descriptors: itabs, strings, constants,
  // the names themselves. A descriptor is pointer-aligned, its alignments
  // are powers of two, its kind (the low 5 bits; flags above them before Go
  // 1.26) one of reflect.Kind's but Invalid, and not more of it holds
  // pointers than there is of it.
  auto power_of_two = [](uint8_t v) { return v != 0 && (v & (v - 1)) == 0; };
  constexpr uint8_t kKindMask = 0x1f, kLastKind = 26;  // reflect.UnsafePointer
  uint8_t kind = type->read_unchecked<uint8_t>(23) & kKindMask;
  if (type_vaddr % 8 != 0 || !power_of_two(type->read_unchecked<uint8_t>(21)) ||
      !power_of_two(type->read_unchecked<uint8_t>(22)) || kind == 0 || kind > kLastKind ||
      type->read_unchecked<uint64_t>(8) > type->read_unchecked<uint64_t>(0))
    return std::nullopt;
  uint8_t tflag = type->read_unchecked<uint8_t>(20);
  int32_t str = type->read_unchecked<int32_t>(40);
  auto name = elf_->bytes_from_vaddr(md.types + static_cast<int64_t>(str));
  if (!name) return std::nullopt;
  uint64_t offset = 1;
  std::optional<uint64_t> length;
  auto release = build_info_.release();
  if (release && !release->at_least(1, 17)) {
    auto be = name->read<uint16_t>(1);
    if (be) length = uint16_t((*be >> 8) | (*be << 8));
    offset = 3;
  } else {
    length = name->uvarint(&offset);
  }
  if (!length || *length == 0 || *length > 1 << 20) return std::nullopt;
  auto text = name->string(offset, *length);
  if (!text || !is_printable_utf8(*text)) return std::nullopt;
  constexpr uint8_t kTflagExtraStar = 1 << 1;  // the stored name has a leading '*' to drop
  if ((tflag & kTflagExtraStar) && text->size() > 1) text->remove_prefix(1);
  return text;
}

bool GoBinary::type_is_pointer_free(uint64_t type_vaddr) const {
  // runtime._type / internal/abi.Type: Size_ uintptr @0, PtrBytes (ptrdata before Go 1.21) uintptr @8.
  auto ptr_bytes = elf_->bytes_at_vaddr(type_vaddr + 8, 8);
  return ptr_bytes && ptr_bytes->read_unchecked<uint64_t>(0) == 0;
}

}  // namespace gotrace
