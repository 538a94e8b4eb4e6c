#include "symbolizer/elf_file.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gotrace {
namespace {

// Caps that keep a hostile header from making us loop for long.
constexpr uint64_t kMaxProgramHeaders = 4096;  // section counts are 16-bit: bounded already

std::string hex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint64_t i = 0; i < bytes.size(); ++i) {
    out.push_back(kDigits[bytes.data()[i] >> 4]);
    out.push_back(kDigits[bytes.data()[i] & 0xf]);
  }
  return out;
}

}  // namespace

bool ElfSegment::executable() const { return (flags & PF_X) != 0; }
bool ElfSegment::writable() const { return (flags & PF_W) != 0; }

Result<std::unique_ptr<ElfFile>> ElfFile::open(const std::string& path, std::string display_name) {
  if (display_name.empty()) display_name = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error("'{}': {}", display_name, std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int saved = errno;
    ::close(fd);
    return make_error("'{}': {}", display_name, std::strerror(saved));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error("'{}': not a regular file", display_name);
  }
  if (st.st_size == 0) {
    ::close(fd);
    return make_error("'{}': not an ELF file (empty)", display_name);
  }
  void* mapping = mmap(nullptr, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int saved = errno;
  ::close(fd);
  if (mapping == MAP_FAILED) return make_error("'{}': cannot map: {}", display_name, std::strerror(saved));

  std::unique_ptr<ElfFile> file(new ElfFile());
  file->name_ = std::move(display_name);
  file->mapping_ = mapping;
  file->mapping_size_ = st.st_size;
  file->bytes_ = ByteView(static_cast<const uint8_t*>(mapping), st.st_size);
  if (Status parsed = file->parse(); !parsed) return parsed.error();
  return file;
}

Result<std::unique_ptr<ElfFile>> ElfFile::from_bytes(std::span<const uint8_t> bytes,
                                                     std::string display_name) {
  std::unique_ptr<ElfFile> file(new ElfFile());
  file->name_ = std::move(display_name);
  file->bytes_ = ByteView(bytes);
  if (Status parsed = file->parse(); !parsed) return parsed.error();
  return file;
}

ElfFile::~ElfFile() {
  if (mapping_ != nullptr) munmap(mapping_, mapping_size_);
}

Status ElfFile::parse() {
  auto ehdr = bytes_.read<Elf64_Ehdr>(0);
  if (!ehdr || std::memcmp(ehdr->e_ident, ELFMAG, SELFMAG) != 0)
    return make_error("'{}': not an ELF file", name_);
  if (ehdr->e_ident[EI_CLASS] != ELFCLASS64 || ehdr->e_ident[EI_DATA] != ELFDATA2LSB ||
      ehdr->e_machine != EM_X86_64)
    return make_error("'{}': not an x86-64 ELF file (only 64-bit little-endian x86-64 is supported)",
                      name_);
  if (ehdr->e_type != ET_EXEC && ehdr->e_type != ET_DYN)
    return make_error("'{}': not an executable (ELF type {})", name_, ehdr->e_type);
  is_dyn_ = ehdr->e_type == ET_DYN;
  entry_ = ehdr->e_entry;

  if (ehdr->e_phnum > kMaxProgramHeaders || (ehdr->e_phnum > 0 && ehdr->e_phentsize < sizeof(Elf64_Phdr)))
    return make_error("'{}': corrupt ELF program header table", name_);
  for (uint64_t i = 0; i < ehdr->e_phnum; ++i) {
    auto phdr = bytes_.read<Elf64_Phdr>(ehdr->e_phoff + i * ehdr->e_phentsize);
    if (!phdr) return make_error("'{}': truncated ELF program header table", name_);
    if (phdr->p_type == PT_NOTE) {
      if (auto notes = bytes_.subview(phdr->p_offset, phdr->p_filesz)) parse_notes(*notes);
    }
    if (phdr->p_type != PT_LOAD) continue;
    ElfSegment segment{phdr->p_vaddr, phdr->p_memsz, phdr->p_offset, phdr->p_filesz, phdr->p_flags};
    if (!bytes_.contains(segment.offset, segment.filesz))
      return make_error("'{}': truncated ELF file (a loadable segment extends past the end of the file)", name_);
    if (segment.filesz > segment.memsz) segment.filesz = segment.memsz;
    segments_.push_back(segment);
  }

  // Section headers are optional; a broken table is ignored, not fatal,
  // because the program headers and a signature scan still work without it.
  if (ehdr->e_shoff == 0 || ehdr->e_shnum == 0 ||
      ehdr->e_shentsize < sizeof(Elf64_Shdr) || ehdr->e_shstrndx >= ehdr->e_shnum)
    return Ok{};
  auto strtab_hdr = bytes_.read<Elf64_Shdr>(ehdr->e_shoff + uint64_t(ehdr->e_shstrndx) * ehdr->e_shentsize);
  if (!strtab_hdr) return Ok{};
  auto names = bytes_.subview(strtab_hdr->sh_offset, strtab_hdr->sh_size);
  if (!names) return Ok{};
  for (uint64_t i = 0; i < ehdr->e_shnum; ++i) {
    auto shdr = bytes_.read<Elf64_Shdr>(ehdr->e_shoff + i * ehdr->e_shentsize);
    if (!shdr) {
      sections_.clear();
      return Ok{};
    }
    if (shdr->sh_type == SHT_NULL) continue;
    auto name = names->cstring(shdr->sh_name, 4096);
    ElfSection section{name.value_or(""), shdr->sh_type, shdr->sh_flags, shdr->sh_addr,
                       shdr->sh_offset, shdr->sh_size};
    // Files without PT_NOTE segments still carry build IDs in note sections,
    // and Go puts its own and the GNU one in a section each.
    if (shdr->sh_type == SHT_NOTE && (gnu_build_id_.empty() || go_build_id_.empty())) {
      if (auto notes = section_bytes(section)) parse_notes(*notes);
    }
    sections_.push_back(section);
  }
  return Ok{};
}

void ElfFile::parse_notes(ByteView notes) {
  // Note layout: namesz, descsz, type (4 bytes each), name, desc, each padded to 4.
  uint64_t offset = 0;
  for (int count = 0; count < 64; ++count) {
    auto namesz = notes.read<uint32_t>(offset);
    auto descsz = notes.read<uint32_t>(offset + 4);
    auto type = notes.read<uint32_t>(offset + 8);
    if (!namesz || !descsz || !type) return;
    uint64_t name_off = offset + 12;
    uint64_t desc_off = name_off + ((uint64_t(*namesz) + 3) & ~uint64_t(3));
    auto name = notes.string(name_off, *namesz);
    auto desc = notes.subview(desc_off, *descsz);
    if (!name || !desc) return;
    if (*name == std::string_view("GNU\0", 4) && *type == NT_GNU_BUILD_ID) {
      gnu_build_id_ = hex(*desc);
    } else if (*name == std::string_view("Go\0\0", 4) && *type == 4 /* Go build ID */) {
      go_build_id_ = std::string(reinterpret_cast<const char*>(desc->data()), desc->size());
    }
    offset = desc_off + ((uint64_t(*descsz) + 3) & ~uint64_t(3));
  }
}

const ElfSection* ElfFile::section(std::string_view name) const {
  for (const ElfSection& s : sections_)
    if (s.name == name) return &s;
  return nullptr;
}

std::optional<ByteView> ElfFile::section_bytes(const ElfSection& section) const {
  if (section.type == SHT_NOBITS) return std::nullopt;
  return bytes_.subview(section.offset, section.size);
}

bool ElfFile::has_dwarf() const {
  for (const ElfSection& s : sections_)
    if (s.name.starts_with(".debug_") || s.name.starts_with(".zdebug_")) return true;
  return false;
}

const ElfSegment* ElfFile::segment_for_vaddr(uint64_t vaddr) const {
  for (const ElfSegment& s : segments_)
    if (vaddr >= s.vaddr && vaddr - s.vaddr < s.memsz) return &s;
  return nullptr;
}

std::optional<uint64_t> ElfFile::vaddr_to_offset(uint64_t vaddr) const {
  const ElfSegment* s = segment_for_vaddr(vaddr);
  if (s == nullptr || vaddr - s->vaddr >= s->filesz) return std::nullopt;
  return s->offset + (vaddr - s->vaddr);
}

std::optional<ByteView> ElfFile::bytes_from_vaddr(uint64_t vaddr) const {
  const ElfSegment* s = segment_for_vaddr(vaddr);
  if (s == nullptr || vaddr - s->vaddr >= s->filesz) return std::nullopt;
  uint64_t delta = vaddr - s->vaddr;
  return bytes_.subview(s->offset + delta, s->filesz - delta);
}

std::optional<ByteView> ElfFile::bytes_at_vaddr(uint64_t vaddr, uint64_t length) const {
  auto rest = bytes_from_vaddr(vaddr);
  if (!rest) return std::nullopt;
  return rest->subview(0, length);
}

}  // namespace gotrace
