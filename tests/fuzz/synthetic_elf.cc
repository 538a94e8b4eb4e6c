#include "tests/fuzz/synthetic_elf.h"

#include <cstring>

namespace gotrace::fuzz {

void put(Bytes& b, uint64_t at, const void* data, size_t size) {
  if (b.size() < at + size) b.resize(at + size, 0);
  std::memcpy(b.data() + at, data, size);
}

void align(Bytes& b, uint64_t to) { b.resize((b.size() + to - 1) / to * to, 0); }

uint64_t append_cstring(Bytes& b, const std::string& s) {
  uint64_t at = b.size();
  b.insert(b.end(), s.begin(), s.end());
  b.push_back(0);
  return at;
}

void uvarint(Bytes& b, uint64_t v) {
  while (v >= 0x80) {
    b.push_back(uint8_t(v) | 0x80);
    v >>= 7;
  }
  b.push_back(uint8_t(v));
}

Elf64_Ehdr elf_header(uint16_t type, uint64_t entry, uint16_t program_headers) {
  Elf64_Ehdr ehdr{};
  std::memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
  ehdr.e_ident[EI_CLASS] = ELFCLASS64;
  ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
  ehdr.e_ident[EI_VERSION] = EV_CURRENT;
  ehdr.e_type = type;
  ehdr.e_machine = EM_X86_64;
  ehdr.e_version = EV_CURRENT;
  ehdr.e_entry = entry;
  ehdr.e_phoff = sizeof(Elf64_Ehdr);
  ehdr.e_ehsize = sizeof(Elf64_Ehdr);
  ehdr.e_phentsize = sizeof(Elf64_Phdr);
  ehdr.e_phnum = program_headers;
  return ehdr;
}

void put_program_header(Bytes& file, size_t index, const ProgramHeader& header) {
  Elf64_Phdr ph{};
  ph.p_type = header.type;
  ph.p_flags = header.flags;
  ph.p_offset = header.offset;
  ph.p_vaddr = ph.p_paddr = header.vaddr;
  ph.p_filesz = header.filesz;
  ph.p_memsz = header.memsz;
  ph.p_align = header.align;
  put(file, sizeof(Elf64_Ehdr) + index * sizeof(ph), &ph, sizeof(ph));
}

}  // namespace gotrace::fuzz
