// Writes a Profile as a gzipped pprof profile.proto, the format of
// `go tool pprof`, Pyroscope and Grafana, with the sample types Go's own heap
// profile uses: alloc_objects/count and alloc_space/bytes, then, when the
// profile has in-use figures, inuse_objects/count and inuse_space/bytes,
// and after Go's four peak_inuse_objects/count and peak_inuse_space/bytes:
// what was in use at the peak of each process's in-use bytes
// (StackAggregator::peak_cycle), where a process's memory blew up rather
// than where it ended. alloc_space is the default sample type either way:
// gotrace is about where a program allocates (Go's own profile leaves pprof
// to show inuse_space).
//
// The profile is streamed: each sample is encoded and compressed on its
// own, then the tables (locations, functions, strings) that samples refer
// to. The fields of a protobuf message may come in any order, and pprof
// resolves references once the whole message is read.
//
// Each of the profile's mappings is a pprof Mapping (ids from 1, in order),
// and each sample is labelled with its process: `process` (the executable's
// name), `pid` (a number) and, for a process in a container, `container`
// (its cgroup): `go tool pprof -tagfocus=process=compile`, `-tagfocus=pid=1234`.
// Each sample also says what kind of allocation it was, where its stack
// says (profile/allocation_kind.h): `alloc=growslice`, `alloc=newobject`
// (`go tool pprof -tagfocus=alloc=growslice`, `-tags`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/output_file.h"
#include "base/result.h"
#include "userspace/profile/profile.h"

namespace gotrace {

// The label of a sample's allocation kind.
inline constexpr const char* kAllocationKindLabel = "alloc";

// What the profile does not say of itself; its binaries are its mappings
// (Profile::mappings).
struct PprofMetadata {
  int64_t time_nanos = 0;      // when tracing started (Unix time)
  int64_t duration_nanos = 0;
  int64_t period = 1;          // bytes between samples; 1 when every allocation was recorded
  std::vector<std::string> comments;
  // The peak_inuse columns, where there are in-use figures: a profile of
  // one interval (the agent's) has no peak of its own to give.
  bool peak_inuse = true;
  // Labels on each sample (type, alloc, process, pid, container). Without,
  // the type is a leaf frame of its own, "[main.Order]", as --folded-types
  // writes it: for a backend that makes a series of each distinct set of
  // sample labels (Pyroscope), where a series per Go type would be
  // thousands; the process is the series' own labels there.
  bool sample_labels = true;
};

// Streams the gzipped profile into `sink`.
Status write_pprof(const Profile& profile, const PprofMetadata& metadata, ByteSink& sink);

// The gzipped bytes of the profile.
Result<std::string> encode_pprof(const Profile& profile, const PprofMetadata& metadata);

}  // namespace gotrace
