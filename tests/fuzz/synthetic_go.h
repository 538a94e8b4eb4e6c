// A complete Go executable of a few KiB, in one of the pclntab, moduledata
// and build info formats gotrace reads: four functions, one with two levels
// of inlining, two type descriptors, build info and module data. make_fuzz_seeds
// writes them as seeds; the layout below is what it checks them against.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tests/fuzz/synthetic_elf.h"

namespace gotrace::fuzz {

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
inline const Function kFunctions[] = {
    {"runtime.mallocgc", 0x000, 0x100},
    {"runtime.mallocgcSmallNoscanSC2", 0x100, 0x80},
    {"main.helper", 0x180, 0x80},
    {"main.main", 0x200, 0x100},  // with main.middle and main.inner inlined
};
constexpr uint32_t kTextSize = 0x300;

// Type descriptors in the types area at kRodata.
constexpr uint64_t kTypeStar = kRodata + 0x40;   // "*main.T" with tflagExtraStar: "main.T"
constexpr uint64_t kTypeSlice = kRodata + 0x80;  // "[]uint8"

// The data segment, loaded at `vaddr`: build info at its start, module data
// at +0x200 pointing at the pcHeader (`pclntab_vaddr`) and the function name
// table; no module data when `pclntab_vaddr` is 0 (build-info-only seeds).
Bytes data_segment(const Spec& spec, uint64_t vaddr, uint64_t pclntab_vaddr, uint64_t funcnametab_vaddr);

// The whole executable.
Bytes make_go_binary(const Spec& spec);

}  // namespace gotrace::fuzz
