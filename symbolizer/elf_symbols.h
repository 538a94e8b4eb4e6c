// The symbols of an ELF file's .symtab, by address.
//
// A Go binary's .symtab names its functions and its data (main.sinkSmall,
// runtime.writeBarrier, go:itab.*os.File,io.Writer); a stripped (-s -w) one
// has none, and the pclntab is then the only source of function names. Go's
// linker gives its type descriptors no symbols of their own: they all sit
// under the zero-size `type:*`.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "symbolizer/elf_file.h"

namespace gotrace {

struct ElfSymbol {
  std::string_view name;  // points into the mapped file
  uint64_t address = 0;   // link-time
  uint64_t size = 0;      // bytes; 0 for a marker such as runtime.etext
};

class ElfSymbols {
 public:
  // The named symbols of `elf`'s .symtab; none when it has no .symtab or
  // its .symtab is malformed. `elf` must outlive this.
  explicit ElfSymbols(const ElfFile& elf);

  bool empty() const { return by_address_.empty(); }

  // The symbol that holds `address`, looked up as `go tool objdump` does:
  // one of the symbols at the greatest address at or below it, if the
  // address is inside it (a zero-size marker such as runtime.etext hides
  // whatever lies before it). Where objdump takes any symbol of those, this
  // takes the one that holds the address.
  const ElfSymbol* containing(uint64_t address) const;

  // The address of the symbol named `name`.
  std::optional<uint64_t> address_of(std::string_view name) const;

 private:
  std::vector<ElfSymbol> by_address_;  // sorted by address, stable for equal ones
};

}  // namespace gotrace
