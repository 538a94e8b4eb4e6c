#include "tests/fuzz/synthetic_pclntab.h"

#include <algorithm>
#include <iterator>
#include <utility>
#include <vector>

namespace gotrace::fuzz {

namespace {

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

uint32_t pclntab_magic(Format format) {
  switch (format) {
    case Format::kGo116: return 0xfffffffa;
    case Format::kGo118: return 0xfffffff0;
    case Format::kGo120: return 0xfffffff1;
    case Format::kLegacy: return 0xfffffffb;
  }
  return 0;
}

// funcnametab: every function's name, then those of the two inlined functions.
struct Names {
  Bytes table;
  std::vector<uint64_t> function;  // by index in kFunctions
  uint64_t middle = 0, inner = 0;
};

Names function_names() {
  Names names;
  names.table.push_back(0);
  for (const Function& f : kFunctions) names.function.push_back(append_cstring(names.table, f.name));
  names.middle = append_cstring(names.table, "main.middle");
  names.inner = append_cstring(names.table, "main.inner");
  return names;
}

// cutab (file numbers to filetab offsets) and filetab.
std::pair<Bytes, Bytes> file_tables() {
  Bytes cutab, filetab;
  filetab.push_back(0);
  uint64_t main_go = append_cstring(filetab, "/src/seed/main.go");
  uint64_t malloc_go = append_cstring(filetab, "/goroot/src/runtime/malloc.go");
  put32(cutab, 0, uint32_t(main_go));
  put32(cutab, 4, uint32_t(malloc_go));
  put32(cutab, 8, 0xffffffff);  // a file number with no file
  return {cutab, filetab};
}

// A function's pc-value tables, as offsets into pctab.
struct Record {
  uint32_t pcsp, pcfile, pcln;
  std::vector<uint32_t> pcdata;
  bool inline_tree;
  uint8_t nfuncdata() const { return inline_tree ? 4 : 1; }
};

std::vector<Record> pc_tables(Bytes& pctab) {
  pctab.push_back(0);  // offset 0 means "no table"
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
  return records;
}

// Inline tree for main.main: [0] main.middle called at 0x10, [1] main.inner called at 0x50.
Bytes inline_tree(bool go120, const Names& names) {
  struct Inline {
    uint64_t name;
    int32_t parent_pc, line;
    int16_t parent;
  };
  const Inline inlines[] = {{names.middle, 0x10, 19, -1}, {names.inner, 0x50, 29, 0}};
  Bytes tree;
  for (size_t i = 0; i < 2; ++i) {
    uint64_t at = i * (go120 ? 16 : 20);
    if (go120) {
      put8(tree, at, 0);
      put32(tree, at + 4, uint32_t(inlines[i].name));
      put32(tree, at + 8, uint32_t(inlines[i].parent_pc));
      put32(tree, at + 12, uint32_t(inlines[i].line));
    } else {
      put16(tree, at, uint16_t(inlines[i].parent));
      put32(tree, at + 4, 0);  // file number
      put32(tree, at + 8, uint32_t(inlines[i].line));
      put32(tree, at + 12, uint32_t(inlines[i].name));
      put32(tree, at + 16, uint32_t(inlines[i].parent_pc));
    }
  }
  tree.resize(0x100, 0);
  return tree;
}

// The fixed fields of function i's _func record at `funcoff`; returns where
// its pcdata offsets follow. The entry is an address in Go 1.16 and an
// offset from textStart later; the fields after it are laid out alike.
uint64_t put_func_fields(Bytes& area, uint64_t funcoff, size_t i, const Record& r, uint64_t name_off,
                         Format format) {
  bool go116 = format == Format::kGo116, go120 = format == Format::kGo120;
  if (go116) put64(area, funcoff, kText + kFunctions[i].start);
  else put32(area, funcoff, kFunctions[i].start);
  uint64_t fields = funcoff + (go116 ? 8 : 4);
  put32(area, fields, uint32_t(name_off));
  put32(area, fields + 12, r.pcsp);
  put32(area, fields + 16, r.pcfile);
  put32(area, fields + 20, r.pcln);
  put32(area, fields + 24, uint32_t(r.pcdata.size()));
  put32(area, fields + 28, 0);  // cuOffset
  if (go120) put32(area, fields + 32, 100 * uint32_t(i));  // startLine
  uint64_t end = funcoff + (go116 || go120 ? 44 : 40);
  put8(area, end - 1, r.nfuncdata());
  return end;
}

// A _func record's pcdata offsets and funcdata, from `at`; funcdata 3 is
// the inline tree. `functab_vaddr` is where the area is loaded.
void put_func_tables(Bytes& area, uint64_t at, const Record& r, bool go116, uint64_t functab_vaddr) {
  for (uint32_t pcdata : r.pcdata) put32(area, (at += 4) - 4, pcdata);
  uint8_t nfuncdata = r.nfuncdata();
  if (go116) {
    if ((functab_vaddr + at) & 4) at += 4;
    for (uint8_t j = 0; j < nfuncdata; ++j) put64(area, at + 8 * j, j == 3 ? kGofunc : 0);
  } else {
    for (uint8_t j = 0; j < nfuncdata; ++j) put32(area, at + 4 * j, j == 3 ? 0 : 0xffffffff);
  }
  area.resize(std::max<uint64_t>(area.size(), at + (go116 ? 8 : 4) * nfuncdata), 0);
}

// The pclntable area, loaded at `functab_vaddr`: the functab, then the _func records.
Bytes function_area(Format format, const std::vector<Record>& records, const Names& names, uint64_t functab_vaddr) {
  bool go116 = format == Format::kGo116;
  uint64_t nfunc = std::size(kFunctions);
  Bytes area((nfunc + 1) * (go116 ? 16 : 8), 0);
  for (size_t i = 0; i < nfunc; ++i) {
    align(area, go116 ? 8 : 4);
    uint64_t funcoff = area.size();
    if (go116) {
      put64(area, i * 16, kText + kFunctions[i].start);
      put64(area, i * 16 + 8, funcoff);
    } else {
      put32(area, i * 8, kFunctions[i].start);
      put32(area, i * 8 + 4, uint32_t(funcoff));
    }
    uint64_t at = put_func_fields(area, funcoff, i, records[i], names.function[i], format);
    put_func_tables(area, at, records[i], go116, functab_vaddr);
  }
  if (go116) put64(area, nfunc * 16, kText + kTextSize);
  else put32(area, nfunc * 8, kTextSize);
  return area;
}

}  // namespace

Tables make_tables(const Spec& spec) {
  bool short_header = spec.format == Format::kGo116 || spec.format == Format::kLegacy;  // without textStart
  Names names = function_names();
  auto [cutab, filetab] = file_tables();
  Bytes pctab;
  std::vector<Record> records = pc_tables(pctab);

  uint64_t funcnametab_off = short_header ? 64 : 72;
  uint64_t cu_off = funcnametab_off + names.table.size();
  uint64_t filetab_off = cu_off + cutab.size();
  uint64_t pctab_off = filetab_off + filetab.size();
  uint64_t pcln_off = (pctab_off + pctab.size() + 7) / 8 * 8;
  Bytes area = function_area(spec.format, records, names, kPclntab + pcln_off);

  Tables out;
  out.gofunc = inline_tree(spec.format == Format::kGo120, names);
  Bytes& p = out.pclntab;
  put32(p, 0, pclntab_magic(spec.format));
  put32(p, 4, 0x08010000);
  put64(p, 8, std::size(kFunctions));
  put64(p, 16, 2);  // nfiles
  uint64_t word = short_header ? 24 : 32;
  if (!short_header) put64(p, 24, spec.header_text_start ? kText : 0);
  put64(p, word, funcnametab_off);
  put64(p, word + 8, cu_off);
  put64(p, word + 16, filetab_off);
  put64(p, word + 24, pctab_off);
  put64(p, word + 32, pcln_off);
  put(p, funcnametab_off, names.table.data(), names.table.size());
  put(p, cu_off, cutab.data(), cutab.size());
  put(p, filetab_off, filetab.data(), filetab.size());
  put(p, pctab_off, pctab.data(), pctab.size());
  p.resize(pcln_off, 0);
  p.insert(p.end(), area.begin(), area.end());
  out.funcnametab_offset = funcnametab_off;
  return out;
}

}  // namespace gotrace::fuzz
