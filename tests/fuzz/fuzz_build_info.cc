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
#include "tests/fuzz/synthetic_elf.h"

namespace {

using namespace gotrace;

// Where the wrapped input is loaded; the seeds' pointers point into it.
constexpr uint64_t kDataVaddr = fuzz::kBuildInfoDataVaddr;
constexpr uint64_t kHeaderBytes = 0x1000;  // ELF header and program headers, then the input

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_build_info: invariant violated: %s\n", what);
  std::abort();
}

std::vector<uint8_t> wrap(const uint8_t* data, size_t size) {
  fuzz::Bytes file(kHeaderBytes + size, 0);
  Elf64_Ehdr header = fuzz::elf_header(ET_EXEC, 0, 2);
  fuzz::put(file, 0, &header, sizeof(header));
  // The headers as a read-only, executable segment, then the input.
  fuzz::put_program_header(file, 0, {PT_LOAD, PF_R | PF_X, 0, 0x400000, kHeaderBytes, kHeaderBytes, 0});
  fuzz::put_program_header(file, 1, {PT_LOAD, PF_R | PF_W, kHeaderBytes, kDataVaddr, size, size + 0x1000, 0});
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
