// Writes small synthetic seed inputs for the fuzz targets (see scripts/fuzz.sh).
//
//   make_fuzz_seeds <go-binary-dir> <hostile-dir> <build-info-dir> <proc-maps-dir>
//
// Real Go binaries are megabytes; the fuzzer mutates them slowly and rarely
// hits the few bytes that matter. These seeds are complete Go executables of
// a few KiB, one per pclntab/moduledata/build-info format gotrace reads
// (Go 1.16, 1.17, 1.19, 1.20, 1.26, 1.27, with and without section headers,
// plus a refused pre-1.16 table): four functions, one with two levels of
// inlining, two type descriptors, build info and module data. Every seed is
// checked to load and symbolize with the library before it is written, so a
// seed that stopped exercising the deep paths fails loudly. Two more seeds,
// in <hostile-dir>, are hostile layouts that used to make loading hang
// (make_hostile); they are slow enough (milliseconds) to drag the small-input
// run down, so scripts/fuzz.sh gives them to the full-size run.

#include <elf.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "symbolizer/elf_file.h"
#include "symbolizer/go_binary.h"
#include "userspace/probe/entry_points.h"

namespace {

using namespace gotrace;
using Bytes = std::vector<uint8_t>;

// Must match kDataVaddr in fuzz_build_info.cc.
constexpr uint64_t kBuildInfoDataVaddr = 0x500000;

void put(Bytes& b, uint64_t at, const void* data, size_t size) {
  if (b.size() < at + size) b.resize(at + size, 0);
  std::memcpy(b.data() + at, data, size);
}
void put8(Bytes& b, uint64_t at, uint8_t v) { put(b, at, &v, 1); }
void put16(Bytes& b, uint64_t at, uint16_t v) { put(b, at, &v, 2); }
void put32(Bytes& b, uint64_t at, uint32_t v) { put(b, at, &v, 4); }
void put64(Bytes& b, uint64_t at, uint64_t v) { put(b, at, &v, 8); }
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

// A pc-value table (runtime.pcvalue): {value, length in bytes} runs.
uint64_t append_pcvalue(Bytes& pctab, const std::vector<std::pair<int32_t, uint32_t>>& runs) {
  uint64_t at = pctab.size();
  int32_t previous = -1;
  for (const auto& [value, length] : runs) {
    int32_t delta = value - previous;
    uint32_t zigzag = (uint32_t(delta) << 1) ^ uint32_t(delta >> 31);
    uvarint(pctab, zigzag);
    uvarint(pctab, length);
    previous = value;
  }
  pctab.push_back(0);
  return at;
}

enum class Format { kGo116, kGo118, kGo120, kLegacy };

struct Spec {
  std::string file_name;
  std::string version;  // the build info's version string
  Format format;
  bool sections = true;
  bool header_text_start = true;  // false: textStart 0 in the pcHeader, as Go 1.26+
  bool old_build_info = false;    // the Go 1.13–1.17 pointer format
  bool big_endian_names = false;  // type name lengths before Go 1.17
  uint64_t types_at, etypes_at;   // moduledata field offsets
  std::optional<uint64_t> gofunc_at;
};

constexpr uint64_t kText = 0x401000;
constexpr uint64_t kRodata = 0x402000;  // types, then go:func.*, then the pclntab
constexpr uint64_t kGofunc = kRodata + 0x100;
constexpr uint64_t kPclntab = kRodata + 0x200;

struct Function {
  std::string name;
  uint32_t start, length;  // offsets from kText
};
const Function kFunctions[] = {
    {"runtime.mallocgc", 0x000, 0x100},
    {"runtime.mallocgcSmallNoscanSC2", 0x100, 0x80},
    {"main.helper", 0x180, 0x80},
    {"main.main", 0x200, 0x100},  // with main.middle and main.inner inlined
};
constexpr uint32_t kTextSize = 0x300;

// The data segment: build info at its start, module data at +0x200.
// `pclntab_fields` are {pcHeader vaddr, funcnametab vaddr}; zero for build-info-only seeds.
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

// Type descriptors at kRodata: names first, then two abi.Type records.
constexpr uint64_t kTypeStar = kRodata + 0x40;   // "*main.T" with tflagExtraStar: "main.T"
constexpr uint64_t kTypeSlice = kRodata + 0x80;  // "[]uint8"
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
    put8(t, at + 23, 25);     // kind
    put32(t, at + 40, uint32_t(str));
  };
  type(kTypeStar, 1 << 1, 0x08);
  type(kTypeSlice, 0, 0x20);
  t.resize(0x100, 0);
  return t;
}

// The pclntab at kPclntab and the inline tree for go:func.* at kGofunc.
struct Tables {
  Bytes pclntab;
  Bytes gofunc;
  uint64_t funcnametab_offset = 0;
};

Tables make_tables(const Spec& spec) {
  Tables out;
  bool go116 = spec.format == Format::kGo116;
  bool go120 = spec.format == Format::kGo120;
  uint32_t magic = spec.format == Format::kGo116   ? 0xfffffffa
                   : spec.format == Format::kGo118 ? 0xfffffff0
                   : spec.format == Format::kGo120 ? 0xfffffff1
                                                   : 0xfffffffb;
  uint64_t header_size = go116 || spec.format == Format::kLegacy ? 64 : 72;

  Bytes funcnames, cutab, filetab, pctab;
  funcnames.push_back(0);
  std::vector<uint64_t> name_off;
  for (const Function& f : kFunctions) name_off.push_back(append_cstring(funcnames, f.name));
  uint64_t middle_name = append_cstring(funcnames, "main.middle");
  uint64_t inner_name = append_cstring(funcnames, "main.inner");
  filetab.push_back(0);
  uint64_t main_go = append_cstring(filetab, "/src/seed/main.go");
  uint64_t malloc_go = append_cstring(filetab, "/goroot/src/runtime/malloc.go");
  put32(cutab, 0, uint32_t(main_go));
  put32(cutab, 4, uint32_t(malloc_go));
  put32(cutab, 8, 0xffffffff);  // a file number with no file

  pctab.push_back(0);  // offset 0 means "no table"
  struct Record {
    uint32_t pcsp, pcfile, pcln;
    std::vector<uint32_t> pcdata;
    bool inline_tree;
  };
  std::vector<Record> records;
  for (size_t i = 0; i < std::size(kFunctions); ++i) {
    const Function& f = kFunctions[i];
    Record r;
    r.pcsp = uint32_t(append_pcvalue(pctab, {{0, 4}, {24, f.length - 8}, {0, 4}}));
    r.inline_tree = f.name == "main.main";
    if (r.inline_tree) {
      r.pcfile = uint32_t(append_pcvalue(pctab, {{0, f.length}}));
      r.pcln = uint32_t(append_pcvalue(pctab, {{10, 0x20}, {30, 0x20}, {20, 0x20}, {11, f.length - 0x60}}));
      uint32_t inl = uint32_t(append_pcvalue(pctab, {{-1, 0x20}, {1, 0x20}, {0, 0x20}, {-1, f.length - 0x60}}));
      r.pcdata = {r.pcsp, 0, inl};
    } else {
      int32_t file = f.name.starts_with("runtime.") ? 1 : 0;
      r.pcfile = uint32_t(append_pcvalue(pctab, {{file, f.length / 2}, {2, f.length / 2}}));
      r.pcln = uint32_t(append_pcvalue(pctab, {{int32_t(100 * i + 1), 0x10}, {int32_t(100 * i + 5), f.length - 0x10}}));
      r.pcdata = {r.pcsp, 0};
    }
    records.push_back(r);
  }

  // Inline tree for main.main: [0] main.middle called at 0x10, [1] main.inner called at 0x50.
  struct Inline {
    uint64_t name;
    int32_t parent_pc, line;
    int16_t parent;
  };
  const Inline inlines[] = {{middle_name, 0x10, 19, -1}, {inner_name, 0x50, 29, 0}};
  for (size_t i = 0; i < 2; ++i) {
    uint64_t at = i * (go120 ? 16 : 20);
    if (go120) {
      put8(out.gofunc, at, 0);
      put32(out.gofunc, at + 4, uint32_t(inlines[i].name));
      put32(out.gofunc, at + 8, uint32_t(inlines[i].parent_pc));
      put32(out.gofunc, at + 12, uint32_t(inlines[i].line));
    } else {
      put16(out.gofunc, at, uint16_t(inlines[i].parent));
      put32(out.gofunc, at + 4, 0);  // file number
      put32(out.gofunc, at + 8, uint32_t(inlines[i].line));
      put32(out.gofunc, at + 12, uint32_t(inlines[i].name));
      put32(out.gofunc, at + 16, uint32_t(inlines[i].parent_pc));
    }
  }
  out.gofunc.resize(0x100, 0);

  // The pclntable area: the functab, then the _func records.
  uint64_t nfunc = std::size(kFunctions);
  uint64_t entry_size = go116 ? 16 : 8;
  uint64_t funcnametab_off = header_size;
  uint64_t cu_off = funcnametab_off + funcnames.size();
  uint64_t filetab_off = cu_off + cutab.size();
  uint64_t pctab_off = filetab_off + filetab.size();
  uint64_t pcln_off = (pctab_off + pctab.size() + 7) / 8 * 8;
  Bytes area((nfunc + 1) * entry_size, 0);
  uint64_t functab_vaddr = kPclntab + pcln_off;
  for (size_t i = 0; i < nfunc; ++i) {
    const Function& f = kFunctions[i];
    const Record& r = records[i];
    align(area, go116 ? 8 : 4);
    uint64_t funcoff = area.size();
    if (go116) {
      put64(area, i * 16, kText + f.start);
      put64(area, i * 16 + 8, funcoff);
    } else {
      put32(area, i * 8, f.start);
      put32(area, i * 8 + 4, uint32_t(funcoff));
    }
    uint8_t nfuncdata = r.inline_tree ? 4 : 1;
    uint64_t fixed;
    if (go116) {
      fixed = 44;
      put64(area, funcoff, kText + f.start);
      put32(area, funcoff + 8, uint32_t(name_off[i]));
      put32(area, funcoff + 20, r.pcsp);
      put32(area, funcoff + 24, r.pcfile);
      put32(area, funcoff + 28, r.pcln);
      put32(area, funcoff + 32, uint32_t(r.pcdata.size()));
      put32(area, funcoff + 36, 0);  // cuOffset
      put8(area, funcoff + 43, nfuncdata);
    } else {
      fixed = go120 ? 44 : 40;
      put32(area, funcoff, f.start);
      put32(area, funcoff + 4, uint32_t(name_off[i]));
      put32(area, funcoff + 16, r.pcsp);
      put32(area, funcoff + 20, r.pcfile);
      put32(area, funcoff + 24, r.pcln);
      put32(area, funcoff + 28, uint32_t(r.pcdata.size()));
      put32(area, funcoff + 32, 0);  // cuOffset
      if (go120) put32(area, funcoff + 36, 100 * uint32_t(i));  // startLine
      put8(area, funcoff + fixed - 1, nfuncdata);
    }
    uint64_t at = funcoff + fixed;
    for (uint32_t pcdata : r.pcdata) put32(area, (at += 4) - 4, pcdata);
    if (go116) {
      if ((functab_vaddr + at) & 4) at += 4;
      for (uint8_t j = 0; j < nfuncdata; ++j) put64(area, at + 8 * j, j == 3 ? kGofunc : 0);
    } else {
      for (uint8_t j = 0; j < nfuncdata; ++j) put32(area, at + 4 * j, j == 3 ? 0 : 0xffffffff);
    }
    area.resize(std::max<uint64_t>(area.size(), at + (go116 ? 8 : 4) * nfuncdata), 0);
  }
  if (go116) put64(area, nfunc * 16, kText + kTextSize);
  else put32(area, nfunc * 8, kTextSize);

  Bytes& p = out.pclntab;
  put32(p, 0, magic);
  put32(p, 4, 0x08010000);
  put64(p, 8, nfunc);
  put64(p, 16, 2);  // nfiles
  uint64_t word = go116 || spec.format == Format::kLegacy ? 24 : 32;
  if (!go116) put64(p, 24, spec.header_text_start ? kText : 0);
  put64(p, word, funcnametab_off);
  put64(p, word + 8, cu_off);
  put64(p, word + 16, filetab_off);
  put64(p, word + 24, pctab_off);
  put64(p, word + 32, pcln_off);
  put(p, funcnametab_off, funcnames.data(), funcnames.size());
  put(p, cu_off, cutab.data(), cutab.size());
  put(p, filetab_off, filetab.data(), filetab.size());
  put(p, pctab_off, pctab.data(), pctab.size());
  p.resize(pcln_off, 0);
  p.insert(p.end(), area.begin(), area.end());
  out.funcnametab_offset = funcnametab_off;
  return out;
}

Bytes make_binary(const Spec& spec) {
  // Compact rather than page-aligned, to keep the seed small: the headers
  // and notes, then text, read-only data and data back to back.
  Tables tables = make_tables(spec);
  constexpr uint64_t kTextOff = 0x200, kRodataOff = kTextOff + kTextSize;
  Bytes file(kTextOff, 0);
  // Text: int3 padding, one ret per function, after calls that take the
  // entry-point search through its paths: main.main calls both allocator
  // functions, mallocgcSmallNoscanSC2 calls mallocgc.
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
  put(file, kTextOff, text.data(), text.size());
  // Read-only data.
  Bytes types = types_area(spec);
  put(file, kRodataOff, types.data(), types.size());
  put(file, kRodataOff + (kGofunc - kRodata), tables.gofunc.data(), tables.gofunc.size());
  put(file, kRodataOff + (kPclntab - kRodata), tables.pclntab.data(), tables.pclntab.size());
  uint64_t rodata_end = file.size();
  align(file, 16);
  uint64_t data_off = file.size();
  uint64_t data_vaddr = 0x480000 + data_off;
  Bytes data = data_segment(spec, data_vaddr, kPclntab, kPclntab + tables.funcnametab_offset);
  put(file, data_off, data.data(), data.size());
  uint64_t data_end = file.size();

  // Notes, in the headers' page: a Go build ID and a GNU build ID.
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
  constexpr uint64_t kNotesOff = 0x140;
  put(file, kNotesOff, notes.data(), notes.size());

  Elf64_Ehdr ehdr{};
  std::memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
  ehdr.e_ident[EI_CLASS] = ELFCLASS64;
  ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
  ehdr.e_ident[EI_VERSION] = EV_CURRENT;
  ehdr.e_type = ET_EXEC;
  ehdr.e_machine = EM_X86_64;
  ehdr.e_version = EV_CURRENT;
  ehdr.e_entry = kText + kFunctions[3].start;
  ehdr.e_phoff = sizeof(Elf64_Ehdr);
  ehdr.e_ehsize = sizeof(Elf64_Ehdr);
  ehdr.e_phentsize = sizeof(Elf64_Phdr);
  ehdr.e_phnum = 4;
  ehdr.e_shentsize = sizeof(Elf64_Shdr);
  auto phdr = [&](int i, uint32_t type, uint32_t flags, uint64_t offset, uint64_t vaddr, uint64_t filesz,
                  uint64_t memsz) {
    Elf64_Phdr ph{};
    ph.p_type = type;
    ph.p_flags = flags;
    ph.p_offset = offset;
    ph.p_vaddr = ph.p_paddr = vaddr;
    ph.p_filesz = filesz;
    ph.p_memsz = memsz;
    ph.p_align = type == PT_LOAD ? 0x1000 : 4;
    put(file, sizeof(ehdr) + i * sizeof(ph), &ph, sizeof(ph));
  };
  if (kNotesOff + notes.size() > kTextOff) std::abort();
  phdr(0, PT_NOTE, PF_R, kNotesOff, 0x400000 + kNotesOff, notes.size(), notes.size());
  phdr(1, PT_LOAD, PF_R | PF_X, kTextOff, kText, kTextSize, kTextSize);
  phdr(2, PT_LOAD, PF_R, kRodataOff, kRodata, rodata_end - kRodataOff, rodata_end - kRodataOff);
  phdr(3, PT_LOAD, PF_R | PF_W, data_off, data_vaddr, data_end - data_off, 0x1000);

  if (spec.sections) {
    Bytes names;
    names.push_back(0);
    struct Section {
      const char* name;
      uint32_t type;
      uint64_t flags, addr, offset, size;
    };
    const Section sections[] = {
        {".text", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, kText, kTextOff, kTextSize},
        {".rodata", SHT_PROGBITS, SHF_ALLOC, kRodata, kRodataOff, 0x200},
        {".gopclntab", SHT_PROGBITS, SHF_ALLOC, kPclntab, kRodataOff + 0x200, tables.pclntab.size()},
        {".go.buildinfo", SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, data_vaddr, data_off, 0x200},
        {".noptrdata", SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, data_vaddr + 0x200, data_off + 0x200, data.size() - 0x200},
        {".bss", SHT_NOBITS, SHF_ALLOC | SHF_WRITE, data_vaddr + data.size(), data_end, 0x100},
        {".note.go.buildid", SHT_NOTE, SHF_ALLOC, 0x400000 + kNotesOff, kNotesOff, notes.size()},
        {".shstrtab", SHT_STRTAB, 0, 0, 0, 0},
    };
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
  put(file, 0, &ehdr, sizeof(ehdr));
  return file;
}

bool write_file(const std::string& path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  out.close();
  if (!out) std::fprintf(stderr, "make_fuzz_seeds: cannot write %s\n", path.c_str());
  return bool(out);
}

// Checks that a seed takes the symbolizer down its deep paths.
bool verify(const Spec& spec, const Bytes& file) {
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "make_fuzz_seeds: %s: %s\n", spec.file_name.c_str(), why.c_str());
    return false;
  };
  auto elf = ElfFile::from_bytes(file, spec.file_name);
  if (!elf) return fail(elf.error().message);
  auto binary = GoBinary::from_elf(std::move(*elf));
  if (spec.format == Format::kLegacy) return binary ? fail("a pre-1.16 table was accepted") : true;
  if (!binary) return fail(binary.error().message);
  const GoBinary& b = **binary;
  if (b.elf().go_build_id().empty() || b.elf().gnu_build_id().empty()) return fail("build IDs not found");
  if (b.build_info().setting("-buildmode") != "exe") return fail("build settings not read");
  if (!b.module_data()) return fail("module data not found");
  if (b.pclntab_found_by_scan() == spec.sections) return fail("pclntab found the wrong way");
  // main.main's call to runtime.mallocgcSmallNoscanSC2 reaches the allocator
  // only through mallocgc: one entry point, with one direct call.
  auto found = find_allocation_entry_points(b);
  if (!found || found->entry_points.size() != 1 || found->entry_points[0].call_sites != 1)
    return fail("allocation entry points not found");
  std::vector<Frame> frames;
  if (const char* reason = b.symbolize(kText + 0x200 + 0x28, false, &frames)) return fail(reason);
  std::string got;
  for (const Frame& f : frames) got += fmt::format("{} {}:{}{}; ", f.function, f.file, f.line, f.inlined ? " (inlined)" : "");
  if (got != "main.inner /src/seed/main.go:30 (inlined); main.middle /src/seed/main.go:20 (inlined); "
             "main.main /src/seed/main.go:10; ")
    return fail("inlined frames: " + got);
  frames.clear();
  if (const char* reason = b.symbolize(kText + 0x18, true, &frames)) return fail(reason);
  if (frames.size() != 1 || frames[0].function != "runtime.mallocgc" || frames[0].line != 5 ||
      frames[0].file != "/goroot/src/runtime/malloc.go")
    return fail("runtime.mallocgc frame wrong");
  if (b.type_name(kTypeStar) != "main.T" || b.type_name(kTypeSlice) != "[]uint8") return fail("type names wrong");
  return true;
}

// Hostile layouts that once made loading take minutes to hours: many
// pclntab signatures in writable data, and many PT_LOAD segments mapping
// the same bytes. Both must now be refused quickly.
Bytes make_hostile(int segments, uint64_t data_size) {
  uint64_t data_off = (sizeof(Elf64_Ehdr) + segments * sizeof(Elf64_Phdr) + 15) / 16 * 16;
  Bytes file(data_off + data_size, 0);
  for (uint64_t at = data_off; at + 8 <= file.size(); at += 8) {
    put32(file, at, 0xfffffff1);
    put32(file, at + 4, 0x08010000);
  }
  Elf64_Ehdr ehdr{};
  std::memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
  ehdr.e_ident[EI_CLASS] = ELFCLASS64;
  ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
  ehdr.e_ident[EI_VERSION] = EV_CURRENT;
  ehdr.e_type = ET_EXEC;
  ehdr.e_machine = EM_X86_64;
  ehdr.e_version = EV_CURRENT;
  ehdr.e_phoff = sizeof(Elf64_Ehdr);
  ehdr.e_ehsize = sizeof(Elf64_Ehdr);
  ehdr.e_phentsize = sizeof(Elf64_Phdr);
  ehdr.e_phnum = uint16_t(segments);
  put(file, 0, &ehdr, sizeof(ehdr));
  for (int i = 0; i < segments; ++i) {
    Elf64_Phdr ph{};
    ph.p_type = PT_LOAD;
    ph.p_flags = PF_R | PF_W;
    ph.p_offset = data_off;
    ph.p_vaddr = ph.p_paddr = 0x500000 + uint64_t(i) * 0x100000 + data_off;
    ph.p_filesz = ph.p_memsz = data_size;
    ph.p_align = 0x1000;
    put(file, sizeof(ehdr) + i * sizeof(ph), &ph, sizeof(ph));
  }
  return file;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: make_fuzz_seeds <go-binary-dir> <hostile-dir> <build-info-dir> <proc-maps-dir>\n");
    return 2;
  }
  std::string binaries = argv[1], hostile = argv[2], build_info = argv[3], maps = argv[4];
  const Spec specs[] = {
      {"synth-go1.26", "go1.26.8", Format::kGo120, true, false, false, false, 296, 304, 320},
      {"synth-go1.26-nosections", "go1.26.8", Format::kGo120, false, false, false, false, 296, 304, 320},
      {"synth-go1.27", "go1.27.4 X:nosizespecializedmalloc,greenteagc", Format::kGo120, true, false, false, false,
       296, 312, 344},
      {"synth-go1.20", "go1.20.14", Format::kGo120, true, true, false, false, 296, 304, 320},
      {"synth-go1.19-nosections", "go1.19.13", Format::kGo118, false, true, false, false, 280, 288, 304},
      {"synth-go1.17", "go1.17.13", Format::kGo116, true, true, true, false, 280, 288, std::nullopt},
      {"synth-go1.16-nosections", "go1.16.15", Format::kGo116, false, true, true, true, 280, 288, std::nullopt},
      {"synth-go1.15", "go1.15.15", Format::kLegacy, true, true, true, true, 280, 288, std::nullopt},
  };
  bool ok = true;
  for (const Spec& spec : specs) {
    Bytes file = make_binary(spec);
    if (!verify(spec, file)) {
      ok = false;
      continue;
    }
    ok &= write_file(binaries + "/" + spec.file_name, file);
    Bytes data = data_segment(spec, kBuildInfoDataVaddr, 0, 0);
    ok &= write_file(build_info + "/" + spec.file_name, data);
  }
  ok &= write_file(hostile + "/hostile-signatures", make_hostile(1, 16 * 1024));
  ok &= write_file(hostile + "/hostile-overlap", make_hostile(300, 4 * 1024));
  // A Go PIE process as fuzz_proc_maps's fixed ELF file describes it, with
  // the awkward paths a process can give its mappings.
  std::string text =
      "555555554000-555555644000 r-xp 00000000 fd:01 1234567                    /usr/local/bin/app\n"
      "555555654000-5555556d4000 r--p 000f0000 fd:01 1234567                    /usr/local/bin/app\n"
      "5555556d5000-5555556e5000 rw-p 00170000 fd:01 1234567                    /usr/local/bin/app\n"
      "5555556e5000-555555705000 rw-p 00000000 00:00 0 \n"
      "c000000000-c004000000 rw-p 00000000 00:00 0\n"
      "7ffff7fc1000-7ffff7fc5000 r--p 00000000 00:00 0                          [vvar]\n"
      "7ffff7ff0000-7ffff7ff1000 r-xp 00000000 fd:01 42                         /tmp/a b (deleted)\n"
      "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]\n"
      "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";
  ok &= write_file(maps + "/synth-go-pie", std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  return ok ? 0 : 1;
}
