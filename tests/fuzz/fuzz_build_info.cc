// libFuzzer target: the Go build information (.go.buildinfo) and version
// strings.
//
// fuzz_go_binary reaches read_build_info too, but only through inputs that
// remain valid ELF files, and most of its time goes to the pclntab. Here the
// input is, unless it is an ELF file itself, the contents of the first
// writable segment of a minimal ELF file built around it (at kDataVaddr, so
// that the pointers of the Go 1.13–1.17 format can point into it), which
// lets the fuzzer spend its time on the build info format. The input is also
// parsed as a Go version string.

#include <elf.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "symbolizer/build_info.h"
#include "symbolizer/elf_file.h"

namespace {

using namespace gotrace;

// Where the wrapped input is loaded; tests/fuzz/make_fuzz_seeds.cc uses the same.
constexpr uint64_t kDataVaddr = 0x500000;
constexpr uint64_t kHeaderBytes = 0x1000;  // ELF header and program headers, then the input

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_build_info: invariant violated: %s\n", what);
  std::abort();
}

std::vector<uint8_t> wrap(const uint8_t* data, size_t size) {
  std::vector<uint8_t> file(kHeaderBytes + size, 0);
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
  ehdr.e_phnum = 2;
  std::memcpy(file.data(), &ehdr, sizeof(ehdr));
  Elf64_Phdr text{};  // the headers as a read-only, executable segment
  text.p_type = PT_LOAD;
  text.p_flags = PF_R | PF_X;
  text.p_vaddr = text.p_paddr = 0x400000;
  text.p_filesz = text.p_memsz = kHeaderBytes;
  Elf64_Phdr rw{};
  rw.p_type = PT_LOAD;
  rw.p_flags = PF_R | PF_W;
  rw.p_offset = kHeaderBytes;
  rw.p_vaddr = rw.p_paddr = kDataVaddr;
  rw.p_filesz = size;
  rw.p_memsz = size + 0x1000;
  std::memcpy(file.data() + sizeof(ehdr), &text, sizeof(text));
  std::memcpy(file.data() + sizeof(ehdr) + sizeof(text), &rw, sizeof(rw));
  if (size > 0) std::memcpy(file.data() + kHeaderBytes, data, size);
  return file;
}

void check_info(const BuildInfo& info) {
  if (info.go_version.empty()) fail("empty go_version accepted");
  if (info.go_version.find(" X:") != std::string::npos) fail("experiments left in go_version");
  (void)info.release();
  (void)info.setting("-buildmode");
  for (const auto& [key, value] : info.settings)
    if (!info.setting(key)) fail("setting() does not find a listed setting");
}

void read(std::span<const uint8_t> bytes) {
  auto elf = ElfFile::from_bytes(bytes, "fuzz-input");
  if (!elf) return;
  auto info = read_build_info(**elf);
  if (info) check_info(*info);
  else if (info.error().message.empty()) fail("empty error");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)parse_go_version(text);
  if (size >= SELFMAG && std::memcmp(data, ELFMAG, SELFMAG) == 0) {
    read(std::span<const uint8_t>(data, size));
  } else {
    std::vector<uint8_t> file = wrap(data, size);
    read(std::span<const uint8_t>(file));
  }
  return 0;
}
