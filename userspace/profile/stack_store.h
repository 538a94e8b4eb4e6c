// Compact storage of distinct stacks, for the aggregator.
//
// A trace can see hundreds of thousands of distinct stacks of 20 to 120
// frames, so what each costs is most of gotrace's memory. Here a stack is
// an entry of 32 bytes in a flat table (its type, totals, depth, flags and
// where its frames are) and its frames, 4 bytes each: every distinct return
// address is numbered once, and stacks hold the numbers. Frames and entries
// live in segments mapped from the kernel, and an open-addressing index of
// 8 bytes a slot finds a stack by its content. Segments are given back to
// the kernel one by one when the stacks are drained at the end of a trace,
// so that the profile built from them takes their place in memory instead
// of adding to it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

#include "userspace/profile/profile.h"

namespace gotrace {

// Zeroed memory mapped from the kernel and given back by munmap when freed,
// unlike small heap blocks that glibc may keep. Throws std::bad_alloc when
// no memory can be mapped, as the heap does.
class MappedBlock {
 public:
  MappedBlock() = default;
  explicit MappedBlock(size_t bytes);
  MappedBlock(MappedBlock&& other) noexcept;
  MappedBlock& operator=(MappedBlock&& other) noexcept;
  ~MappedBlock();

  void* data() const { return data_; }
  size_t size() const { return size_; }
  // Gives the whole pages from `offset` on back to the kernel; the mapping
  // stays, and they read as zeroes.
  void discard_from(size_t offset);

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

struct StoredStack {
  static constexpr uint8_t kTruncated = 1;  // cut at the root end by the probe
  static constexpr uint8_t kMerged = 2;     // cut to its leaf-most frames by the memory bound

  uint64_t type = 0;   // runtime address of the *runtime._type, 0 for none
  uint32_t first = 0;  // where its frame numbers start, counted over all segments
  uint16_t depth = 0;
  uint8_t flags = 0;
  WeightedTotals totals;
  // What of it is still in use: estimated from the runtime's heap-profile
  // samples, of the objects sampled while tracing.
  WeightedTotals inuse{};
};

class StackStore {
 public:
  // `segment_bytes`: the size of each segment of frames and of entries.
  explicit StackStore(size_t segment_bytes = size_t(1) << 20);

  // The hash stacks are found by: over the type, the merged flag and the pcs.
  static uint64_t hash(uint64_t type, bool merged, const uint64_t* pcs, uint32_t depth);

  size_t size() const { return size_; }
  StoredStack& at(uint32_t id) { return entries_at(id)[0]; }
  const StoredStack& at(uint32_t id) const { return entries_at(id)[0]; }
  // Stack `id` as a RawStack (totals included); `raw` is reused.
  void read(uint32_t id, RawStack* raw) const;

  // The stack with this content, merged or not as `merged` says.
  std::optional<uint32_t> find(uint64_t hash, uint64_t type, bool merged, const uint64_t* pcs, uint32_t depth) const;
  // Adds a stack not there yet, with zero totals; its id is size() - 1.
  uint32_t insert(uint64_t hash, uint64_t type, uint8_t flags, const uint64_t* pcs, uint32_t depth);

  // Cuts each stack `id` with keep[id] != 0 to its keep[id] leaf-most
  // frames and marks it merged; stacks that become equal are summed into
  // the first of them. Order is kept and ids are renumbered: the result
  // gives each old id its new one. Works in place: memory only shrinks.
  std::vector<uint32_t> cut_and_combine(const std::vector<uint8_t>& keep);

  // Hands every stack to `each` in order, with its id (for what the caller
  // keeps of it elsewhere), giving memory back as it goes; the store is
  // empty afterwards.
  void drain(const std::function<void(uint32_t id, RawStack& raw)>& each);

  // What the store holds in memory, in bytes: frames and entries in use,
  // the index and the table of return addresses.
  size_t bytes() const;
  // The frames of every stack, counting the slots left unused at the end
  // of segments.
  size_t frame_count() const { return frames_end_; }

 private:
  uint32_t* frames_at(uint32_t first);
  const uint32_t* frames_at(uint32_t first) const;
  StoredStack* entries_at(uint32_t id);
  const StoredStack* entries_at(uint32_t id) const;
  // Room for `depth` frame numbers, in one segment; where they start.
  uint32_t allocate_frames(uint32_t depth);
  // A new entry at the end, in a new segment when the last is full.
  uint32_t allocate_entry();
  uint32_t number_of(uint64_t pc);
  bool same(const StoredStack& stack, uint64_t type, bool merged, const uint64_t* pcs, uint32_t depth) const;
  void index_insert(uint64_t hash, uint32_t id);
  void grow_index();
  // Frees the segments past the ones in use, and the unused pages of the last.
  void trim_segments();

  size_t frames_per_segment_;
  size_t entries_per_segment_;
  std::vector<MappedBlock> frame_segments_;
  std::vector<MappedBlock> entry_segments_;
  uint64_t frames_end_ = 0;  // the next free frame slot, counted over all segments
  size_t size_ = 0;
  // Slots of {id + 1, upper half of the hash}; 0 is empty. A power of two.
  MappedBlock index_;
  size_t index_slots_ = 0;
  std::vector<uint64_t> pcs_;                    // by frame number
  std::unordered_map<uint64_t, uint32_t> numbers_;  // pc → frame number
};

}  // namespace gotrace
