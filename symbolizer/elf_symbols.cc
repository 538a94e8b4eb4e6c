#include "symbolizer/elf_symbols.h"

#include <algorithm>

namespace gotrace {

ElfSymbols::ElfSymbols(const ElfFile& elf) {
  const ElfSection* symtab = elf.section(".symtab");
  const ElfSection* strtab = elf.section(".strtab");
  if (!symtab || !strtab) return;
  auto symbols = elf.section_bytes(*symtab);
  auto strings = elf.section_bytes(*strtab);
  if (!symbols || !strings) return;
  constexpr uint64_t kSymbolSize = 24;  // Elf64_Sym: name u32, info u8, other u8, shndx u16, value u64, size u64
  by_address_.reserve(symbols->size() / kSymbolSize);
  for (uint64_t at = 0; at + kSymbolSize <= symbols->size(); at += kSymbolSize) {
    // A nameless symbol (a section's) still hides what lies before it.
    auto name = strings->cstring(symbols->read_unchecked<uint32_t>(at));
    by_address_.push_back({name.value_or(""), symbols->read_unchecked<uint64_t>(at + 8),
                           symbols->read_unchecked<uint64_t>(at + 16)});
  }
  std::stable_sort(by_address_.begin(), by_address_.end(),
                   [](const ElfSymbol& a, const ElfSymbol& b) { return a.address < b.address; });
}

const ElfSymbol* ElfSymbols::containing(uint64_t address) const {
  auto after = std::upper_bound(by_address_.begin(), by_address_.end(), address,
                                [](uint64_t a, const ElfSymbol& symbol) { return a < symbol.address; });
  if (after == by_address_.begin()) return nullptr;
  uint64_t start = std::prev(after)->address;
  // Address 0 is an undefined or absolute symbol's, not a place.
  if (start == 0) return nullptr;
  // Of the symbols there (a variable and the marker of its section's end,
  // say), the one that holds the address.
  for (auto it = after; it != by_address_.begin() && std::prev(it)->address == start; --it) {
    const ElfSymbol& symbol = *std::prev(it);
    if (!symbol.name.empty() && address - start < symbol.size) return &symbol;
  }
  return nullptr;
}

std::optional<uint64_t> ElfSymbols::address_of(std::string_view name) const {
  for (const ElfSymbol& symbol : by_address_)
    if (!name.empty() && symbol.name == name) return symbol.address;
  return std::nullopt;
}

}  // namespace gotrace
