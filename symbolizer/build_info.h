// The Go version and build settings recorded in a binary's .go.buildinfo.
//
// Format per debug/buildinfo and cmd/link (*Link).buildinfo: a 32-byte header
// starting "\xff Go buildinf:" at 16-byte alignment, then either two
// length-prefixed strings (Go 1.18+, flag 0x2) or two pointers to Go string
// headers (Go 1.13–1.17). The version string carries " X:<experiments>"
// (newer releases: "-X:<experiments>") when the build's GOEXPERIMENT
// differs from the release's default.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "symbolizer/elf_file.h"
#include "base/result.h"

namespace gotrace {

struct GoRelease {
  int major = 0;
  int minor = 0;
  int patch = 0;
  bool operator<(const GoRelease& other) const {
    return std::tie(major, minor, patch) < std::tie(other.major, other.minor, other.patch);
  }
  bool at_least(int want_major, int want_minor) const {
    return major > want_major || (major == want_major && minor >= want_minor);
  }
};

struct BuildInfo {
  std::string go_version;                // e.g. "go1.26.8", without experiments
  std::vector<std::string> experiments;  // from the " X:" suffix, e.g. "nosizespecializedmalloc"
  std::string main_path;                 // the main package's import path
  std::string main_module;               // "path version" of the main module, if recorded
  std::vector<std::pair<std::string, std::string>> settings;  // "build" lines, e.g. {"-buildmode", "pie"}
  std::optional<GoRelease> release() const;
  std::optional<std::string> setting(std::string_view key) const;
};

// Parses "go1.21.13", "go1.21rc2", "go1.21" (and "devel go1.27-…"); nullopt otherwise.
std::optional<GoRelease> parse_go_version(std::string_view version);

// Reads the build info of `elf`. Fails with a message naming the file when
// there is none (not a Go binary, or built before Go 1.13) or it is corrupt.
Result<BuildInfo> read_build_info(const ElfFile& elf);

}  // namespace gotrace
