// A read-only, bounds-checked view of an x86-64 ELF file.
//
// The file is mapped, never read whole: only the pages a lookup touches are
// faulted in. Only what the symbolizer needs is parsed (program headers,
// section headers and their names, notes); every offset and size in the file
// is checked against the mapping before use. Section headers are optional:
// stripped or packed binaries may have none, and callers fall back to the
// program headers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "symbolizer/byte_view.h"
#include "base/result.h"

namespace gotrace {

struct ElfSegment {  // a PT_LOAD program header
  uint64_t vaddr = 0;
  uint64_t memsz = 0;
  uint64_t offset = 0;
  uint64_t filesz = 0;
  uint32_t flags = 0;  // PF_R / PF_W / PF_X
  bool executable() const;
  bool writable() const;
};

struct ElfSection {
  std::string_view name;  // points into the mapping
  uint32_t type = 0;
  uint64_t flags = 0;
  uint64_t addr = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
};

class ElfFile {
 public:
  // Maps `path` read-only. `display_name` is used in error messages (for a
  // process, the path as the process sees it rather than /proc/<pid>/root/…).
  static Result<std::unique_ptr<ElfFile>> open(const std::string& path,
                                               std::string display_name = "");
  // Parses bytes owned by the caller, which must outlive the ElfFile (fuzzing, tests).
  static Result<std::unique_ptr<ElfFile>> from_bytes(std::span<const uint8_t> bytes,
                                                     std::string display_name);
  ~ElfFile();
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;

  const std::string& name() const { return name_; }
  ByteView bytes() const { return bytes_; }
  bool is_pie() const { return is_dyn_; }  // ET_DYN: position independent
  uint64_t entry() const { return entry_; }

  const std::vector<ElfSegment>& load_segments() const { return segments_; }
  const std::vector<ElfSection>& sections() const { return sections_; }
  const ElfSection* section(std::string_view name) const;
  // Bytes of a section that occupies file space (not SHT_NOBITS), if in bounds.
  std::optional<ByteView> section_bytes(const ElfSection& section) const;

  // The file bytes backing virtual addresses [vaddr, vaddr+length), when they
  // lie inside one PT_LOAD segment's file-backed part.
  std::optional<ByteView> bytes_at_vaddr(uint64_t vaddr, uint64_t length) const;
  // The file bytes of the segment holding `vaddr`, from `vaddr` to the end of
  // its file-backed part.
  std::optional<ByteView> bytes_from_vaddr(uint64_t vaddr) const;
  std::optional<uint64_t> vaddr_to_offset(uint64_t vaddr) const;
  const ElfSegment* segment_for_vaddr(uint64_t vaddr) const;

  bool has_symtab() const { return section(".symtab") != nullptr; }
  bool has_dwarf() const;
  // Hex build IDs from the notes; empty when absent.
  const std::string& gnu_build_id() const { return gnu_build_id_; }
  const std::string& go_build_id() const { return go_build_id_; }

 private:
  ElfFile() = default;
  Status parse();
  void parse_notes(ByteView notes);

  std::string name_;
  ByteView bytes_;
  void* mapping_ = nullptr;  // owned mmap, or null for from_bytes
  uint64_t mapping_size_ = 0;
  bool is_dyn_ = false;
  uint64_t entry_ = 0;
  std::vector<ElfSegment> segments_;
  std::vector<ElfSection> sections_;
  std::string gnu_build_id_;
  std::string go_build_id_;
};

}  // namespace gotrace
