#include "tests/fuzz/synthetic_go.h"

#include <cstdlib>
#include <cstring>
#include <iterator>
#include <vector>

#include "tests/fuzz/synthetic_pclntab.h"

namespace gotrace::fuzz {

namespace {

// Compact rather than page-aligned, to keep the seed small: the headers and
// notes, then text, read-only data and data back to back.
constexpr uint64_t kHeadersVaddr = 0x400000;
constexpr uint64_t kNotesOff = 0x140;
constexpr uint64_t kTextOff = 0x200;
constexpr uint64_t kRodataOff = kTextOff + kTextSize;

// Type descriptors at kRodata: names first, then two abi.Type records.
Bytes types_area(const Spec& spec) {
  Bytes t(0x100, 0);
  auto name = [&](uint64_t at, const std::string& s) {
    Bytes n;
    n.push_back(0);  // flags
    if (spec.big_endian_names) {
      n.push_back(uint8_t(s.size() >> 8));
      n.push_back(uint8_t(s.size()));
    } else {
      uvarint(n, s.size());
    }
    n.insert(n.end(), s.begin(), s.end());
    put(t, at, n.data(), n.size());
  };
  name(0x08, "*main.T");
  name(0x20, "[]uint8");
  auto type = [&](uint64_t vaddr, uint8_t tflag, int32_t str) {
    uint64_t at = vaddr - kRodata;
    put64(t, at, 16);         // size
    put32(t, at + 16, 0x1234);  // hash
    put8(t, at + 20, tflag);
    put8(t, at + 21, 8);      // align
    put8(t, at + 22, 8);      // field align
    put8(t, at + 23, 25);     // kind
    put32(t, at + 40, uint32_t(str));
  };
  type(kTypeStar, 1 << 1, 0x08);
  type(kTypeSlice, 0, 0x20);
  t.resize(0x100, 0);
  return t;
}

// Text: int3 padding, one ret per function, after calls that take the
// entry-point search through its paths: main.main calls both allocator
// functions, mallocgcSmallNoscanSC2 calls mallocgc.
Bytes text_segment() {
  Bytes text(kTextSize, 0xcc);
  auto call = [&](uint32_t at, uint32_t target) {
    int32_t displacement = int32_t(target) - int32_t(at + 5);
    text[at] = 0xe8;
    std::memcpy(&text[at + 1], &displacement, 4);
    return at + 5;
  };
  for (const Function& f : kFunctions) {
    uint32_t at = f.start;
    if (f.name == "main.main") at = call(call(at, kFunctions[1].start), kFunctions[0].start);
    if (f.name == "runtime.mallocgcSmallNoscanSC2") at = call(at, kFunctions[0].start);
    text[at] = 0xc3;
  }
  return text;
}

// Notes, in the headers' page: a Go build ID and a GNU build ID.
Bytes build_id_notes() {
  Bytes notes;
  auto note = [&](const char* name, uint32_t type, const std::string& desc) {
    uint64_t at = notes.size();
    put32(notes, at, 4);
    put32(notes, at + 4, uint32_t(desc.size()));
    put32(notes, at + 8, type);
    put(notes, at + 12, name, 4);
    put(notes, at + 16, desc.data(), desc.size());
    align(notes, 4);
  };
  note("Go\0\0", 4, "seedbuildid/seedbuildid");
  note("GNU\0", NT_GNU_BUILD_ID, std::string(20, '\x5a'));
  return notes;
}

// Where make_go_binary put what the program and section headers describe.
struct Placement {
  uint64_t notes_size, rodata_end, pclntab_size;
  uint64_t data_off, data_vaddr, data_size, data_end;
};

void put_program_headers(Bytes& file, const Placement& at) {
  uint64_t rodata_size = at.rodata_end - kRodataOff;
  put_program_header(file, 0, {PT_NOTE, PF_R, kNotesOff, kHeadersVaddr + kNotesOff, at.notes_size, at.notes_size, 4});
  put_program_header(file, 1, {PT_LOAD, PF_R | PF_X, kTextOff, kText, kTextSize, kTextSize, 0x1000});
  put_program_header(file, 2, {PT_LOAD, PF_R, kRodataOff, kRodata, rodata_size, rodata_size, 0x1000});
  put_program_header(file, 3,
                     {PT_LOAD, PF_R | PF_W, at.data_off, at.data_vaddr, at.data_end - at.data_off, 0x1000, 0x1000});
}

// Section names and headers at the end of the file; fills in the ELF
// header's fields for them.
void put_section_headers(Bytes& file, Elf64_Ehdr& ehdr, const Placement& at) {
  struct Section {
    const char* name;
    uint32_t type;
    uint64_t flags, addr, offset, size;
  };
  const Section sections[] = {
      {".text", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, kText, kTextOff, kTextSize},
      {".rodata", SHT_PROGBITS, SHF_ALLOC, kRodata, kRodataOff, 0x200},
      {".gopclntab", SHT_PROGBITS, SHF_ALLOC, kPclntab, kRodataOff + 0x200, at.pclntab_size},
      {".go.buildinfo", SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, at.data_vaddr, at.data_off, 0x200},
      {".noptrdata", SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, at.data_vaddr + 0x200, at.data_off + 0x200,
       at.data_size - 0x200},
      {".bss", SHT_NOBITS, SHF_ALLOC | SHF_WRITE, at.data_vaddr + at.data_size, at.data_end, 0x100},
      {".note.go.buildid", SHT_NOTE, SHF_ALLOC, kHeadersVaddr + kNotesOff, kNotesOff, at.notes_size},
      {".shstrtab", SHT_STRTAB, 0, 0, 0, 0},
  };
  Bytes names;
  names.push_back(0);
  std::vector<uint32_t> name_at;
  for (const Section& s : sections) name_at.push_back(uint32_t(append_cstring(names, s.name)));
  uint64_t names_off = file.size();
  put(file, names_off, names.data(), names.size());
  align(file, 8);
  uint64_t shoff = file.size();
  file.resize(shoff + sizeof(Elf64_Shdr), 0);  // SHT_NULL
  for (size_t i = 0; i < std::size(sections); ++i) {
    const Section& s = sections[i];
    Elf64_Shdr sh{};
    sh.sh_name = name_at[i];
    sh.sh_type = s.type;
    sh.sh_flags = s.flags;
    sh.sh_addr = s.addr;
    sh.sh_offset = s.type == SHT_STRTAB ? names_off : s.offset;
    sh.sh_size = s.type == SHT_STRTAB ? names.size() : s.size;
    sh.sh_addralign = 1;
    put(file, file.size(), &sh, sizeof(sh));
  }
  ehdr.e_shoff = shoff;
  ehdr.e_shnum = uint16_t(std::size(sections) + 1);
  ehdr.e_shstrndx = uint16_t(std::size(sections));
}

}  // namespace

Bytes data_segment(const Spec& spec, uint64_t vaddr, uint64_t pclntab_vaddr, uint64_t funcnametab_vaddr) {
  Bytes d;
  put(d, 0, "\xff Go buildinf:", 14);
  put8(d, 14, 8);
  std::string modinfo = std::string("0123456789abcdef") +
                        "path\tgotrace.test/seed\nmod\tgotrace.test/seed\t(devel)\t\n"
                        "build\t-buildmode=exe\nbuild\t-compiler=gc\nbuild\tCGO_ENABLED=0\n" +
                        std::string("fedcba9876543210");
  if (!spec.old_build_info) {
    put8(d, 15, 2);
    d.resize(32, 0);
    uvarint(d, spec.version.size());
    d.insert(d.end(), spec.version.begin(), spec.version.end());
    uvarint(d, modinfo.size());
    d.insert(d.end(), modinfo.begin(), modinfo.end());
  } else {
    put8(d, 15, 0);
    // Pointers to {data, len} string headers at +0x20 and +0x30, text at +0x40.
    put64(d, 16, vaddr + 0x20);
    put64(d, 24, vaddr + 0x30);
    uint64_t version_at = 0x40, modinfo_at = 0x40 + spec.version.size();
    put64(d, 0x20, vaddr + version_at);
    put64(d, 0x28, spec.version.size());
    put64(d, 0x30, vaddr + modinfo_at);
    put64(d, 0x38, modinfo.size());
    put(d, version_at, spec.version.data(), spec.version.size());
    put(d, modinfo_at, modinfo.data(), modinfo.size());
  }
  if (d.size() > 0x200) std::abort();
  if (pclntab_vaddr != 0) {
    uint64_t md = 0x200;
    put64(d, md + 0, pclntab_vaddr);
    put64(d, md + 8, funcnametab_vaddr);
    put64(d, md + 16, 0x100);
    put64(d, md + 24, 0x100);
    put64(d, md + 176, kText);
    put64(d, md + 184, kText + kTextSize);
    put64(d, md + spec.types_at, kRodata);
    put64(d, md + spec.etypes_at, kRodata + 0x100);
    if (spec.gofunc_at) put64(d, md + *spec.gofunc_at, kGofunc);
    d.resize(md + 384, 0);
  }
  return d;
}

Bytes make_go_binary(const Spec& spec) {
  Tables tables = make_tables(spec);
  Bytes file(kTextOff, 0);
  Bytes text = text_segment();
  put(file, kTextOff, text.data(), text.size());
  Bytes types = types_area(spec);
  put(file, kRodataOff, types.data(), types.size());
  put(file, kRodataOff + (kGofunc - kRodata), tables.gofunc.data(), tables.gofunc.size());
  put(file, kRodataOff + (kPclntab - kRodata), tables.pclntab.data(), tables.pclntab.size());
  Placement at{};
  at.pclntab_size = tables.pclntab.size();
  at.rodata_end = file.size();
  align(file, 16);
  at.data_off = file.size();
  at.data_vaddr = 0x480000 + at.data_off;
  Bytes data = data_segment(spec, at.data_vaddr, kPclntab, kPclntab + tables.funcnametab_offset);
  put(file, at.data_off, data.data(), data.size());
  at.data_size = data.size();
  at.data_end = file.size();

  Bytes notes = build_id_notes();
  if (kNotesOff + notes.size() > kTextOff) std::abort();
  put(file, kNotesOff, notes.data(), notes.size());
  at.notes_size = notes.size();

  Elf64_Ehdr ehdr = elf_header(ET_EXEC, kText + kFunctions[3].start, 4);
  ehdr.e_shentsize = sizeof(Elf64_Shdr);
  put_program_headers(file, at);
  if (spec.sections) put_section_headers(file, ehdr, at);
  put(file, 0, &ehdr, sizeof(ehdr));
  return file;
}

}  // namespace gotrace::fuzz
