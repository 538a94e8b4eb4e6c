// libFuzzer target: the text of /proc/<pid>/maps.
//
// The file is written by the kernel, but its path column is chosen by
// whoever named the mapped files (any process can map a file called
// "x 1 2\n..."), so it is parsed as untrusted text. The parsed mappings then
// go through AddressTranslator the way the tracer uses them, against a fixed
// PIE-like ELF file with text, read-only data and data segments.

#include <elf.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include "symbolizer/elf_file.h"
#include "symbolizer/process_maps.h"
#include "tests/fuzz/synthetic_elf.h"

namespace {

using namespace gotrace;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_proc_maps: invariant violated: %s\n", what);
  std::abort();
}

// An ELF header and three PT_LOAD program headers, laid out like a Go PIE:
// r-x at 0 (file offset 0), r-- at 0x100000, rw- at 0x180000 (0x1000 past
// its file offset's page, like a real data segment).
std::vector<uint8_t> make_elf() {
  const fuzz::ProgramHeader loads[] = {{PT_LOAD, PF_R | PF_X, 0x0, 0x0, 0xf0000, 0xf0000, 0x1000},
                                       {PT_LOAD, PF_R, 0xf0000, 0x100000, 0x80000, 0x80000, 0x1000},
                                       {PT_LOAD, PF_R | PF_W, 0x170000, 0x181000, 0x10000, 0x30000, 0x1000}};
  fuzz::Bytes file(0x180000, 0);
  Elf64_Ehdr header = fuzz::elf_header(ET_DYN, 0x1000, 3);
  fuzz::put(file, 0, &header, sizeof(header));
  for (size_t i = 0; i < std::size(loads); ++i) fuzz::put_program_header(file, i, loads[i]);
  return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<uint8_t> elf_bytes = make_elf();
  static const auto elf = ElfFile::from_bytes(std::span<const uint8_t>(elf_bytes), "fuzz-elf");
  if (!elf) fail("the fixed ELF file does not parse");

  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<MemoryMapping> mappings = parse_proc_maps(text);
  if (mappings.size() > size) fail("more mappings than bytes");
  for (const MemoryMapping& m : mappings) {
    if (m.start >= m.end) fail("mapping with start >= end");
    if (m.path.find('\n') != std::string::npos) fail("path spans lines");
    if (m.path.size() > size) fail("path longer than the input");
  }

  ProcessExecutable process;
  process.pid = 1;
  process.path = mappings.empty() ? "" : mappings.front().path;
  process.open_path = "/proc/1/exe";
  process.mappings = mappings;
  auto translator = AddressTranslator::create(process, **elf);
  if (!translator) {
    if (translator.error().message.empty()) fail("empty AddressTranslator error");
    return 0;
  }
  size_t probes = 0;
  for (const MemoryMapping& m : mappings) {
    if (++probes > 64) break;
    for (uint64_t address : {m.start, m.end - 1, m.end, m.start - 1}) {
      auto vaddr = translator->to_file_vaddr(address);
      if (vaddr && translator->to_runtime(*vaddr) != address) fail("translation does not round-trip");
      if (address >= m.start && address < m.end && !vaddr) fail("address inside a mapping not translated");
    }
  }
  return 0;
}
