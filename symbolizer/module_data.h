// runtime.firstmoduledata: where the runtime keeps the module's text start,
// the type descriptor range and the go:func.* base.
//
// It is found without symbols by scanning the writable segments for its first
// field, a pointer to the pcHeader, and checking the second, a slice whose
// data pointer is the pcHeader's funcnametab. Field offsets depend on the
// release (runtime/symtab.go, type moduledata), so the release from the build
// info picks the layout; without it the layout is inferred and validated.
#pragma once

#include <cstdint>
#include <optional>

#include "symbolizer/build_info.h"
#include "symbolizer/elf_file.h"
#include "symbolizer/pclntab.h"

namespace gotrace {

struct ModuleData {
  uint64_t vaddr = 0;   // where the moduledata itself lives
  uint64_t text = 0;    // moduledata.text: the base of the function table's entry offsets
  uint64_t etext = 0;
  uint64_t types = 0;   // type descriptors live in [types, etypes)
  uint64_t etypes = 0;
  std::optional<uint64_t> gofunc;  // go:func.* (Go 1.18+)
};

// `pclntab_vaddr` is the pcHeader's address, `funcnametab_offset` its
// funcnameOffset field. `release` is from the build info when known.
std::optional<ModuleData> find_module_data(const ElfFile& elf, uint64_t pclntab_vaddr,
                                           uint64_t funcnametab_offset, PclntabFormat format,
                                           std::optional<GoRelease> release);

}  // namespace gotrace
