#include "tests/support/damaged_binary.h"

#include <sys/stat.h>

#include <cstring>
#include <span>

#include "tests/support/fixture_builds.h"

namespace gotrace::testing {

std::string specialized_fixture() {
  for (const FixtureBuild& build : fixture_builds("allocs"))
    if (build.go_version.starts_with("go1.27.") && build.variant == "plain") return build.path;
  ADD_FAILURE() << "no go1.27 plain build of allocs";
  return fixture_builds("allocs").front().path;
}

std::unique_ptr<GoBinary> open_or_fail(const std::string& path) {
  auto binary = GoBinary::open(path);
  if (!binary) {
    ADD_FAILURE() << binary.error().message;
    return nullptr;
  }
  return std::move(*binary);
}

uint64_t entry_of(const GoBinary& binary, std::string_view name) {
  auto f = binary.find_function(name);
  if (!f) ADD_FAILURE() << name << " not found";
  return f ? f->entry : 0;
}

std::string damaged_copy(const std::string& path, const Damage& damage) {
  std::string bytes = read_file(path);
  auto original = GoBinary::open(path);
  if (!original) {
    ADD_FAILURE() << original.error().message;
    return bytes;
  }
  (*original)->pclntab().for_each_function([&](const FunctionInfo& f) {
    auto offset = (*original)->file_offset(f.entry);
    if (!offset || f.end <= f.entry || *offset + (f.end - f.entry) > bytes.size()) return;
    damage(reinterpret_cast<uint8_t*>(bytes.data() + *offset), f.end - f.entry, f.entry);
  });
  return bytes;
}

Damage redirect_calls(uint64_t entry, uint64_t from, uint64_t to) {
  return [=](uint8_t* code, uint64_t length, uint64_t vaddr) {
    if (vaddr != entry) return;
    for (uint64_t i = 0; i + 5 <= length; ++i) {
      if (code[i] != 0xe8) continue;
      int32_t displacement;
      std::memcpy(&displacement, code + i + 1, 4);
      uint64_t next = vaddr + i + 5;
      if (from != 0 && next + int64_t(displacement) != from) continue;
      displacement = int32_t(int64_t(to) - int64_t(next));
      std::memcpy(code + i + 1, &displacement, 4);
    }
  };
}

Result<Searched> find_in_bytes(std::string bytes) {
  Searched searched;
  searched.bytes = std::make_unique<std::string>(std::move(bytes));
  const std::string& held = *searched.bytes;
  auto elf = ElfFile::from_bytes(std::span(reinterpret_cast<const uint8_t*>(held.data()), held.size()), "damaged");
  if (!elf) return elf.error();
  auto binary = GoBinary::from_elf(std::move(*elf));
  if (!binary) return binary.error();
  searched.binary = std::move(*binary);
  auto found = find_allocation_entry_points(*searched.binary);
  if (!found) return found.error();
  static_cast<AllocationEntryPoints&>(searched) = std::move(*found);
  return searched;
}

void EntryPointsNotUnderstood::SetUp() {
  std::string path = specialized_fixture();
  auto binary = open_or_fail(path);
  ASSERT_TRUE(binary);
  uint64_t tiny = entry_of(*binary, "runtime.mallocgcTinySC2");
  bytes_ = damaged_copy(path, redirect_calls(tiny, 0, tiny));
  copy_.write(bytes_);
  chmod(path_.c_str(), 0755);
}

}  // namespace gotrace::testing
