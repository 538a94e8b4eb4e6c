// A Go executable opened for symbolization: the one entry point of the
// symbolizer library.
//
// Everything comes from the ELF file itself; no .symtab and no DWARF are
// needed, so stripped (-s -w) and PIE builds work. Addresses in and out are
// link-time virtual addresses ("file addresses"); see process_maps.h for
// translating a live process's addresses.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "symbolizer/build_info.h"
#include "symbolizer/elf_file.h"
#include "symbolizer/module_data.h"
#include "symbolizer/pclntab.h"
#include "base/result.h"

namespace gotrace {

// The oldest release whose binaries the symbolizer reads.
inline constexpr GoRelease kOldestSupportedRelease{1, 16, 0};

class GoBinary {
 public:
  static Result<std::unique_ptr<GoBinary>> open(const std::string& path, std::string display_name = "");
  static Result<std::unique_ptr<GoBinary>> from_elf(std::unique_ptr<ElfFile> elf);

  const ElfFile& elf() const { return *elf_; }
  const std::string& name() const { return elf_->name(); }
  const BuildInfo& build_info() const { return build_info_; }
  const Pclntab& pclntab() const { return *pclntab_; }
  const std::optional<ModuleData>& module_data() const { return module_data_; }
  uint64_t pclntab_vaddr() const { return pclntab_vaddr_; }
  // True when the pclntab was found by scanning rather than by section name.
  bool pclntab_found_by_scan() const { return pclntab_found_by_scan_; }

  // Stripped means no .symtab; DWARF may still be there (or not) separately.
  bool stripped() const { return !elf_->has_symtab(); }
  std::optional<uint64_t> file_offset(uint64_t vaddr) const { return elf_->vaddr_to_offset(vaddr); }

  // See Pclntab::symbolize.
  const char* symbolize(uint64_t pc, bool return_address, std::vector<Frame>* frames) const {
    return pclntab_->symbolize(pc, return_address, frames);
  }
  std::optional<FunctionInfo> find_function(std::string_view name) const { return pclntab_->find_function(name); }

  // Whether this binary's runtime prints generic function names with their
  // type arguments elided (Go 1.21+): `main.F[...]` for `main.F[go.shape.int]`.
  bool prints_elided_type_parameters() const;

  // The abi.FuncID the runtime gives wrappers (method wrappers, `go` and
  // `defer` wrappers, reflect's runtime.callN frames), whose frames its
  // tracebacks hide. The numbering changes between releases, but the
  // wrapper's is the one after runtime.systemstack_switch's in every release
  // since Go 1.16. nullopt when that function is missing. A search of the
  // function table: call it once.
  std::optional<uint8_t> wrapper_func_id() const;

  // The Go name of the type whose runtime._type descriptor is at `type_vaddr`
  // ("main.T", "*bytes.Buffer", "[]uint8"), or nullopt when the address is not
  // a type descriptor of this binary.
  std::optional<std::string_view> type_name(uint64_t type_vaddr) const;

  // Whether the runtime._type descriptor at `type_vaddr` says the type holds
  // no pointers (its PtrBytes is 0). A type the file does not hold (made at
  // run time by reflect) counts as having pointers.
  bool type_is_pointer_free(uint64_t type_vaddr) const;

 private:
  GoBinary() = default;

  std::unique_ptr<ElfFile> elf_;
  BuildInfo build_info_;
  std::unique_ptr<Pclntab> pclntab_;
  std::optional<ModuleData> module_data_;
  uint64_t pclntab_vaddr_ = 0;
  bool pclntab_found_by_scan_ = false;
};

// A function name as the Go runtime prints it from Go 1.21 on
// (runtime.funcNameForPrint): the type arguments of a generic function
// between the first '[' and the last ']' become "[...]".
std::string_view function_name_for_print(std::string_view name, std::string* storage);

}  // namespace gotrace
