// Small synthetic x86-64 ELF files, byte by byte, for the fuzz targets that
// wrap their input in one and for the seeds make_fuzz_seeds writes.
#pragma once

#include <elf.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gotrace::fuzz {

using Bytes = std::vector<uint8_t>;

// Where fuzz_build_info loads its input as a data segment: the build info
// seeds from make_fuzz_seeds hold pointers into it.
constexpr uint64_t kBuildInfoDataVaddr = 0x500000;

// Writes `size` bytes at `at`, growing `b` with zeros when it is shorter.
void put(Bytes& b, uint64_t at, const void* data, size_t size);
inline void put8(Bytes& b, uint64_t at, uint8_t v) { put(b, at, &v, 1); }
inline void put16(Bytes& b, uint64_t at, uint16_t v) { put(b, at, &v, 2); }
inline void put32(Bytes& b, uint64_t at, uint32_t v) { put(b, at, &v, 4); }
inline void put64(Bytes& b, uint64_t at, uint64_t v) { put(b, at, &v, 8); }
// Pads `b` with zeros to a multiple of `to`.
void align(Bytes& b, uint64_t to);
// Appends `s` and its terminating NUL; returns where it starts.
uint64_t append_cstring(Bytes& b, const std::string& s);
// Appends `v` as an unsigned LEB128 varint (Go's encoding/binary.Uvarint).
void uvarint(Bytes& b, uint64_t v);

// An ELF header for x86-64, little-endian, with `program_headers` program
// headers right after it and no section headers (the caller adds those).
Elf64_Ehdr elf_header(uint16_t type, uint64_t entry, uint16_t program_headers);

struct ProgramHeader {
  uint32_t type, flags;
  uint64_t offset, vaddr, filesz, memsz, align;
};
// Writes program header `index` where elf_header places it (p_paddr = p_vaddr).
void put_program_header(Bytes& file, size_t index, const ProgramHeader& header);

}  // namespace gotrace::fuzz
