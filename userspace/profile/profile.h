// The profile model: what a trace amounts to once its stacks are
// symbolized, and what the exporters and the live view read.
//
// A Profile is a table of locations (one per distinct return address, with
// its inlined frames) and samples that point into it (one per distinct
// stack and type, after the stack is shaped the way Go's own heap profile
// shapes it: profile/stack_symbolizer.h). It covers one process or several
// (profile/profile_combiner.h): each sample names its process, each
// location the mapping of the binary it is in.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "symbolizer/pclntab.h"

namespace gotrace {

struct AllocationTotals {
  uint64_t count = 0;
  uint64_t bytes = 0;  // as the allocator hands them out (see allocation_size.h)
};

// Running sums; estimates of the unsampled figures when sampling.
struct WeightedTotals {
  double count = 0;
  double bytes = 0;
  void add(const WeightedTotals& other) {
    count += other.count;
    bytes += other.bytes;
  }
  AllocationTotals rounded() const;
};

// One distinct raw stack as traced, before symbolization: what the
// aggregator keeps and what a profile is built from.
struct RawStack {
  uint64_t type = 0;          // runtime address of the *runtime._type, 0 for none
  std::vector<uint64_t> pcs;  // runtime return addresses, leaf first
  bool truncated = false;     // cut at the root end by the probe
  WeightedTotals totals;
  bool merged = false;        // cut to its leaf-most frames by the memory bound (--max-memory)
  WeightedTotals inuse{};     // still in use, from the runtime's heap-profile samples
  WeightedTotals peak_inuse{};  // in use at the peak of the process's in-use bytes
};

struct Location {
  uint64_t address = 0;       // runtime return address
  uint64_t file_address = 0;  // link-time address
  std::vector<Frame> frames;  // innermost first; empty when unresolved (frames point into the binary)
  uint32_t mapping = 0;       // index into Profile::mappings: the binary it was looked up in
};

// One traced binary as its processes mapped it: pprof's Mapping. Processes
// of one binary share a mapping only where they loaded it at the same
// address (a PIE binary at two load biases is two mappings).
struct Mapping {
  std::string path;           // as the traced process sees it
  std::string build_id;       // the GNU build id, or else Go's
  uint64_t start = 0;         // runtime range of the executable's text
  uint64_t limit = 0;
  uint64_t file_offset = 0;   // of the text in the file
  bool operator==(const Mapping&) const = default;
};

// One traced process: what every output labels its samples with.
struct ProcessLabel {
  int pid = 0;
  std::string name;           // the executable's base name, e.g. "compile"
  std::string container;      // the process's cgroup path; "" when none
  uint32_t mapping = 0;       // index into Profile::mappings: its executable
};

// How outputs name a process in a stack or a column: "compile:12345".
std::string process_name_and_pid(const ProcessLabel& process);

// A sample's locations and type are kept by the profile, in one array and
// one table of names shared by every sample: a profile holds hundreds of
// thousands of samples, and a vector and a string of their own would cost
// each more than its locations do.
struct Sample {
  uint32_t first = 0;        // where its locations start in Profile::stack_locations
  uint32_t type = 0;         // index into Profile::type_names
  uint32_t process = 0;      // index into Profile::processes
  uint16_t kind = 0;         // index into Profile::kind_names
  uint8_t depth = 0;         // how many locations it has: at most the probe's 127 frames
  bool truncated : 1 = false;  // the stack was cut at the root end
  bool merged : 1 = false;     // cut to its leaf-most frames by the memory bound
  AllocationTotals totals;
  AllocationTotals inuse;    // still in use when the trace ended (heap-profile samples)
  // In use at the end of the collection cycle when its process's in-use
  // bytes were the most (StackAggregator::peak_cycle).
  AllocationTotals peak_inuse;
};
// The process index and the kind took the room of a depth that needs no 32 bits.
static_assert(sizeof(Sample) == 64, "a Sample is held by the hundred thousand: keep it small");

struct Profile {
  std::vector<Location> locations;
  std::vector<uint32_t> stack_locations;  // every sample's indexes into locations, leaf first
  std::vector<std::string> type_names;    // the Go types allocated, or kRawMemory
  // What the allocations were made by (allocation_kind.h); "" where the
  // stack does not say. Never more than 65536: each is a runtime function.
  std::vector<std::string> kind_names;
  std::vector<Sample> samples;
  std::vector<Mapping> mappings;          // by Location::mapping and ProcessLabel::mapping
  std::vector<ProcessLabel> processes;    // by Sample::process; one for a single process's trace
  AllocationTotals totals;
  AllocationTotals inuse;
  // Whether the in-use figures were recorded (the runtime's heap profiler
  // was on and probed): the profile then has Go's four heap sample types,
  // and the two of the peak.
  bool has_inuse = false;

  std::span<const uint32_t> locations_of(const Sample& sample) const {
    return {stack_locations.data() + sample.first, sample.depth};
  }
  const std::string& type_name_of(const Sample& sample) const { return type_names[sample.type]; }
  std::string_view kind_of(const Sample& sample) const {
    return sample.kind < kind_names.size() ? std::string_view(kind_names[sample.kind]) : std::string_view();
  }
  // Appends a sample, with its type name added to the table when new (a
  // search: for profiles of few types, as tests build).
  Sample& add_sample(std::span<const uint32_t> locations, std::string_view type_name, AllocationTotals totals = {},
                     bool truncated = false, bool merged = false);
};

// The type name of memory allocated without a Go type (string bytes, for one).
inline constexpr const char* kRawMemory = "raw memory";

// The type of a heap-profile sample whose callers' code does not say which
// type they allocated (a generic dictionary's, paths that disagree): the
// runtime's probe there is not handed it (trace/heap_samples.h).
inline constexpr uint64_t kUnknownTypeAddress = ~uint64_t(0);
inline constexpr const char* kUnknownType = "unknown type";

// The root frame every output shows for a stack merged into its call site
// by the memory bound (--max-memory): its own root frames are gone.
inline constexpr const char* kMergedFrame = "[merged:--max-memory]";

// A location's frames as every output shows them: an address that did not
// resolve is one frame, "[unknown]".
std::span<const Frame> shown_frames(const Location& location);

// The frame a stack is counted at: the innermost frame of its first
// location (indexes into `table`), "[unknown]" when it did not resolve.
const Frame& leaf_frame(std::span<const uint32_t> locations, const std::vector<Location>& table);

}  // namespace gotrace
