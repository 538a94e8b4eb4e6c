// A pprof profile read back, for `gotrace explain`: the profiles gotrace
// writes (export/pprof_writer.h), and any other heap profile in the format
// (Go's own, gzipped or not).
//
// A profile is a file from anywhere: every reference in it (string, location,
// function and mapping ids) is checked, and one that points nowhere makes
// the profile unreadable rather than a crash. Its decompressed size is
// bounded, so that a small file cannot inflate without end.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace gotrace {

struct ProfileFrame {
  std::string function;
  std::string file;
  int64_t line = 0;
};

struct ProfileMapping {
  uint64_t start = 0;  // runtime range of the mapped text
  uint64_t limit = 0;
  uint64_t file_offset = 0;
  std::string file;
  std::string build_id;
};

struct ProfileLocation {
  uint64_t address = 0;                // runtime address
  std::optional<uint32_t> mapping;     // index into ReadProfile::mappings
  std::vector<ProfileFrame> frames;    // innermost first: the inlined functions, then the one they are in
};

struct ProfileSample {
  std::vector<uint32_t> locations;     // indexes into ReadProfile::locations, leaf first
  std::vector<int64_t> values;         // one per sample type
  // String and numeric labels alike, in the profile's order: {"alloc", "growslice"}, {"pid", "1234"}.
  std::vector<std::pair<std::string, std::string>> labels;
  std::string_view label(std::string_view key) const;
};

struct ReadProfile {
  std::vector<std::string> sample_types;  // "alloc_space", ...
  std::vector<std::string> sample_units;  // "bytes", ...
  std::string default_sample_type;        // "" when the profile names none
  std::vector<ProfileMapping> mappings;
  std::vector<ProfileLocation> locations;
  std::vector<ProfileSample> samples;
  std::vector<std::string> comments;
  int64_t duration_nanos = 0;
  // The index of a sample type by name; nullopt for one the profile lacks.
  std::optional<size_t> sample_type(std::string_view name) const;
};

// The most a profile may inflate to.
inline constexpr uint64_t kMaxProfileBytes = uint64_t(1) << 30;

// Parses a profile, gzipped or not; `name` names it in errors.
Result<ReadProfile> parse_profile(std::string_view bytes, std::string_view name);
// Reads and parses the profile at `path`.
Result<ReadProfile> read_profile(const std::string& path);

}  // namespace gotrace
