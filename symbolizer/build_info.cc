#include "symbolizer/build_info.h"

#include <charconv>
#include <cstring>

namespace gotrace {
namespace {

constexpr std::string_view kMagic("\xff Go buildinf:", 14);
constexpr uint64_t kHeaderSize = 32;
constexpr uint64_t kSearchLimit = 64 * 1024;  // as debug/buildinfo
constexpr uint64_t kMaxStringLength = 1 << 20;

// Reads one Go string through a pointer to its header {data, len} (pre-1.18 format).
std::optional<std::string_view> read_string_header(const ElfFile& elf, uint64_t header_vaddr) {
  auto header = elf.bytes_at_vaddr(header_vaddr, 16);
  if (!header) return std::nullopt;
  uint64_t data = header->read_unchecked<uint64_t>(0);
  uint64_t length = header->read_unchecked<uint64_t>(8);
  if (length > kMaxStringLength) return std::nullopt;
  if (length == 0) return std::string_view();
  auto bytes = elf.bytes_at_vaddr(data, length);
  if (!bytes) return std::nullopt;
  return bytes->string(0, length);
}

std::optional<std::string_view> read_length_prefixed(ByteView bytes, uint64_t* offset) {
  auto length = bytes.uvarint(offset);
  if (!length || *length > kMaxStringLength) return std::nullopt;
  auto text = bytes.string(*offset, *length);
  if (text) *offset += *length;
  return text;
}

std::optional<ByteView> find_header(const ElfFile& elf) {
  auto search = [](ByteView area) -> std::optional<ByteView> {
    uint64_t limit = std::min<uint64_t>(area.size(), kSearchLimit);
    for (uint64_t off = 0; off + kHeaderSize <= limit; off += 16) {
      if (std::memcmp(area.data() + off, kMagic.data(), kMagic.size()) == 0) return area.tail(off);
    }
    return std::nullopt;
  };
  if (const ElfSection* section = elf.section(".go.buildinfo")) {
    if (auto bytes = elf.section_bytes(*section)) return search(*bytes);
  }
  // Without section headers: the start of the first writable data segment.
  for (const ElfSegment& segment : elf.load_segments()) {
    if (!segment.writable() || segment.executable()) continue;
    if (auto bytes = elf.bytes().subview(segment.offset, segment.filesz)) {
      if (auto found = search(*bytes)) return found;
    }
  }
  return std::nullopt;
}

void parse_modinfo(std::string_view modinfo, BuildInfo* info) {
  // Sentinels of 16 bytes frame the text (cmd/go/internal/modload).
  if (modinfo.size() >= 33 && modinfo[modinfo.size() - 17] == '\n')
    modinfo = modinfo.substr(16, modinfo.size() - 32);
  while (!modinfo.empty()) {
    size_t eol = modinfo.find('\n');
    std::string_view line = modinfo.substr(0, eol);
    modinfo = eol == std::string_view::npos ? std::string_view() : modinfo.substr(eol + 1);
    size_t tab = line.find('\t');
    if (tab == std::string_view::npos) continue;
    std::string_view kind = line.substr(0, tab), rest = line.substr(tab + 1);
    if (kind == "path") {
      info->main_path = rest;
    } else if (kind == "mod") {
      std::string module(rest);
      for (char& c : module) if (c == '\t') c = ' ';
      info->main_module = module;
    } else if (kind == "build") {
      size_t eq = rest.find('=');
      if (eq == std::string_view::npos) continue;
      info->settings.emplace_back(rest.substr(0, eq), rest.substr(eq + 1));
    }
  }
}

}  // namespace

std::optional<GoRelease> parse_go_version(std::string_view version) {
  if (version.starts_with("devel ")) version.remove_prefix(6);
  if (!version.starts_with("go")) return std::nullopt;
  version.remove_prefix(2);
  GoRelease release;
  int* parts[] = {&release.major, &release.minor, &release.patch};
  const char* p = version.data();
  const char* end = version.data() + version.size();
  for (int i = 0; i < 3 && p < end; ++i) {
    auto [next, ec] = std::from_chars(p, end, *parts[i]);
    if (ec != std::errc() ) return i >= 2 ? std::optional(release) : std::nullopt;
    p = next;
    if (p == end || *p != '.') break;
    ++p;
  }
  if (release.major == 0) return std::nullopt;
  return release;
}

std::optional<GoRelease> BuildInfo::release() const { return parse_go_version(go_version); }

std::optional<std::string> BuildInfo::setting(std::string_view key) const {
  for (const auto& [k, v] : settings)
    if (k == key) return v;
  return std::nullopt;
}

Result<BuildInfo> read_build_info(const ElfFile& elf) {
  auto header = find_header(elf);
  if (!header) return make_error("'{}': not a Go binary (no Go build information)", elf.name());
  if (!header->contains(0, kHeaderSize)) return make_error("'{}': corrupt Go build information", elf.name());
  uint8_t pointer_size = header->data()[14];
  uint8_t flags = header->data()[15];
  if ((flags & 1) != 0 || pointer_size != 8)
    return make_error("'{}': Go build information is not for a 64-bit little-endian target", elf.name());

  std::optional<std::string_view> version, modinfo;
  if (flags & 2) {
    uint64_t offset = kHeaderSize;
    version = read_length_prefixed(*header, &offset);
    if (version) modinfo = read_length_prefixed(*header, &offset);
  } else {
    version = read_string_header(elf, header->read_unchecked<uint64_t>(16));
    modinfo = read_string_header(elf, header->read_unchecked<uint64_t>(24));
  }
  if (!version || !modinfo || version->empty())
    return make_error("'{}': corrupt Go build information (version string unreadable)", elf.name());

  BuildInfo info;
  std::string_view v = *version;
  // Experiments follow the version as " X:a,b" or, in newer releases, "-X:a,b".
  size_t x = v.find(" X:");
  if (x == std::string_view::npos) x = v.find("-X:");
  if (x != std::string_view::npos) {
    std::string_view list = v.substr(x + 3);
    v = v.substr(0, x);
    while (!list.empty()) {
      size_t comma = list.find(',');
      info.experiments.emplace_back(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
  }
  if (v.empty())  // " X:..." alone: experiments without a version
    return make_error("'{}': corrupt Go build information (version string unreadable)", elf.name());
  info.go_version = v;
  parse_modinfo(*modinfo, &info);
  return info;
}

}  // namespace gotrace
