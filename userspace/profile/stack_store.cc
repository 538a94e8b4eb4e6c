#include "userspace/profile/stack_store.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

namespace gotrace {
namespace {

struct IndexSlot {
  uint32_t id_plus_one;  // 0: empty
  uint32_t hash_high;    // compared before the stack itself
};

size_t page_size() {
  static const size_t size = size_t(sysconf(_SC_PAGESIZE));
  return size;
}

// Frame numbers are 32-bit offsets over all segments: 4 Gi frames, 16 GiB
// of them, far beyond any bound a trace runs with.
constexpr uint64_t kMaxFrames = uint64_t(1) << 32;

static_assert(sizeof(StoredStack) == 48);

// An unordered_map node and its bucket, roughly, for bytes().
constexpr size_t kNumberBytes = 48;

}  // namespace

MappedBlock::MappedBlock(size_t bytes) : size_(bytes) {
  void* data = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) throw std::bad_alloc();
  data_ = data;
}

MappedBlock::MappedBlock(MappedBlock&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

MappedBlock& MappedBlock::operator=(MappedBlock&& other) noexcept {
  if (this != &other) {
    if (data_) munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedBlock::~MappedBlock() {
  if (data_) munmap(data_, size_);
}

void MappedBlock::discard_from(size_t offset) {
  size_t start = (offset + page_size() - 1) / page_size() * page_size();
  if (data_ && start < size_) madvise(static_cast<char*>(data_) + start, size_ - start, MADV_DONTNEED);
}

StackStore::StackStore(size_t segment_bytes)
    : frames_per_segment_(segment_bytes / sizeof(uint32_t)), entries_per_segment_(segment_bytes / sizeof(StoredStack)) {}

uint64_t StackStore::hash(uint64_t type, bool merged, const uint64_t* pcs, uint32_t depth) {
  // FNV-1a over 64-bit words: cheap, and collisions are resolved by
  // comparing contents.
  uint64_t hash = 1469598103934665603ull;
  auto mix = [&](uint64_t word) {
    hash ^= word;
    hash *= 1099511628211ull;
  };
  mix(type);
  if (merged) mix(~uint64_t(0));
  for (uint32_t i = 0; i < depth; ++i) mix(pcs[i]);
  return hash;
}

uint32_t* StackStore::frames_at(uint32_t first) {
  return static_cast<uint32_t*>(frame_segments_[first / frames_per_segment_].data()) + first % frames_per_segment_;
}

const uint32_t* StackStore::frames_at(uint32_t first) const {
  return static_cast<const uint32_t*>(frame_segments_[first / frames_per_segment_].data()) +
         first % frames_per_segment_;
}

StoredStack* StackStore::entries_at(uint32_t id) {
  return static_cast<StoredStack*>(entry_segments_[id / entries_per_segment_].data()) + id % entries_per_segment_;
}

const StoredStack* StackStore::entries_at(uint32_t id) const {
  return static_cast<const StoredStack*>(entry_segments_[id / entries_per_segment_].data()) +
         id % entries_per_segment_;
}

void StackStore::read(uint32_t id, RawStack* raw) const {
  const StoredStack& stack = at(id);
  const uint32_t* frames = frames_at(stack.first);
  raw->type = stack.type;
  raw->pcs.resize(stack.depth);
  for (uint32_t i = 0; i < stack.depth; ++i) raw->pcs[i] = pcs_[frames[i]];
  raw->truncated = stack.flags & StoredStack::kTruncated;
  raw->merged = stack.flags & StoredStack::kMerged;
  raw->totals = stack.totals;
  raw->inuse = stack.inuse;
}

bool StackStore::same(const StoredStack& stack, uint64_t type, bool merged, const uint64_t* pcs,
                      uint32_t depth) const {
  if (stack.type != type || stack.depth != depth || bool(stack.flags & StoredStack::kMerged) != merged) return false;
  const uint32_t* frames = frames_at(stack.first);
  for (uint32_t i = 0; i < depth; ++i)
    if (pcs_[frames[i]] != pcs[i]) return false;
  return true;
}

std::optional<uint32_t> StackStore::find(uint64_t hash, uint64_t type, bool merged, const uint64_t* pcs,
                                         uint32_t depth) const {
  if (index_slots_ == 0) return std::nullopt;
  const auto* slots = static_cast<const IndexSlot*>(index_.data());
  size_t mask = index_slots_ - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const IndexSlot& slot = slots[i];
    if (slot.id_plus_one == 0) return std::nullopt;
    if (slot.hash_high == uint32_t(hash >> 32) && same(at(slot.id_plus_one - 1), type, merged, pcs, depth))
      return slot.id_plus_one - 1;
  }
}

void StackStore::index_insert(uint64_t hash, uint32_t id) {
  auto* slots = static_cast<IndexSlot*>(index_.data());
  size_t mask = index_slots_ - 1;
  size_t i = hash & mask;
  while (slots[i].id_plus_one != 0) i = (i + 1) & mask;
  slots[i] = {id + 1, uint32_t(hash >> 32)};
}

void StackStore::grow_index() {
  // At most 70% full, so that a miss ends soon.
  size_t slots = std::max<size_t>(1024, index_slots_ * 2);
  index_ = MappedBlock(slots * sizeof(IndexSlot));
  index_slots_ = slots;
  RawStack raw;
  for (uint32_t id = 0; id < size_; ++id) {
    read(id, &raw);
    index_insert(hash(raw.type, raw.merged, raw.pcs.data(), raw.pcs.size()), id);
  }
}

uint32_t StackStore::number_of(uint64_t pc) {
  auto [it, inserted] = numbers_.emplace(pc, pcs_.size());
  if (inserted) pcs_.push_back(pc);
  return it->second;
}

uint32_t StackStore::allocate_frames(uint32_t depth) {
  depth = std::max<uint32_t>(depth, 1);  // even a stack of no frames has a place in a segment
  if (frames_end_ % frames_per_segment_ + depth > frames_per_segment_)
    frames_end_ += frames_per_segment_ - frames_end_ % frames_per_segment_;
  if (frames_end_ + depth > kMaxFrames) throw std::bad_alloc();
  while (frames_end_ + depth > frame_segments_.size() * frames_per_segment_)
    frame_segments_.emplace_back(frames_per_segment_ * sizeof(uint32_t));
  uint32_t first = uint32_t(frames_end_);
  frames_end_ += depth;
  return first;
}

uint32_t StackStore::allocate_entry() {
  if (size_ == entry_segments_.size() * entries_per_segment_)
    entry_segments_.emplace_back(entries_per_segment_ * sizeof(StoredStack));
  return uint32_t(size_++);
}

uint32_t StackStore::insert(uint64_t hash, uint64_t type, uint8_t flags, const uint64_t* pcs, uint32_t depth) {
  if ((size_ + 1) * 10 > index_slots_ * 7) grow_index();
  uint32_t first = allocate_frames(depth);
  uint32_t* frames = frames_at(first);
  for (uint32_t i = 0; i < depth; ++i) frames[i] = number_of(pcs[i]);
  uint32_t id = allocate_entry();
  at(id) = {type, first, uint16_t(depth), flags, {}, {}};
  index_insert(hash, id);
  return id;
}

std::vector<uint32_t> StackStore::cut_and_combine(const std::vector<uint8_t>& keep) {
  // Every stack moves to an earlier place or stays, in order, so one pass
  // writing behind the reading position rebuilds the table in place; the
  // index is rebuilt as the stacks are written.
  std::vector<uint32_t> renumbered(size_);
  if (size_ == 0) return renumbered;
  std::memset(index_.data(), 0, index_slots_ * sizeof(IndexSlot));
  size_t read_size = size_;
  size_ = 0;
  frames_end_ = 0;
  std::vector<uint64_t> pcs;
  for (uint32_t id = 0; id < read_size; ++id) {
    StoredStack stack = at(id);
    bool merged = stack.flags & StoredStack::kMerged;
    uint32_t depth = stack.depth;
    if (id < keep.size() && keep[id] != 0) {
      depth = std::min<uint32_t>(depth, keep[id]);
      merged = true;
    }
    const uint32_t* frames = frames_at(stack.first);
    pcs.resize(depth);
    for (uint32_t i = 0; i < depth; ++i) pcs[i] = pcs_[frames[i]];
    uint64_t h = hash(stack.type, merged, pcs.data(), depth);
    if (auto earlier = find(h, stack.type, merged, pcs.data(), depth)) {
      at(*earlier).totals.add(stack.totals);
      at(*earlier).inuse.add(stack.inuse);
      renumbered[id] = *earlier;
      continue;
    }
    uint32_t first = allocate_frames(depth);
    std::memmove(frames_at(first), frames, depth * sizeof(uint32_t));
    uint32_t new_id = allocate_entry();
    uint8_t flags = merged ? StoredStack::kMerged : stack.flags;
    at(new_id) = {stack.type, first, uint16_t(depth), flags, stack.totals, stack.inuse};
    index_insert(h, new_id);
    renumbered[id] = new_id;
  }
  trim_segments();
  return renumbered;
}

void StackStore::trim_segments() {
  size_t frame_segments = (frames_end_ + frames_per_segment_ - 1) / frames_per_segment_;
  frame_segments_.resize(std::min(frame_segments_.size(), frame_segments));
  if (!frame_segments_.empty())
    frame_segments_.back().discard_from((frames_end_ - (frame_segments - 1) * frames_per_segment_) * sizeof(uint32_t));
  size_t entry_segments = (size_ + entries_per_segment_ - 1) / entries_per_segment_;
  entry_segments_.resize(std::min(entry_segments_.size(), entry_segments));
  if (!entry_segments_.empty())
    entry_segments_.back().discard_from((size_ - (entry_segments - 1) * entries_per_segment_) * sizeof(StoredStack));
}

void StackStore::drain(const std::function<void(uint32_t, RawStack&)>& each) {
  index_ = MappedBlock();
  index_slots_ = 0;
  std::unordered_map<uint64_t, uint32_t>().swap(numbers_);
  RawStack raw;
  for (uint32_t id = 0; id < size_; ++id) {
    read(id, &raw);
    each(id, raw);
    // Segments wholly read are given back: frames up to the segment the
    // next stack's frames are in, entries by position.
    size_t next_segment = id + 1 < size_ ? at(id + 1).first / frames_per_segment_ : frame_segments_.size();
    for (size_t s = at(id).first / frames_per_segment_; s < next_segment; ++s) frame_segments_[s] = MappedBlock();
    if ((id + 1) % entries_per_segment_ == 0) entry_segments_[id / entries_per_segment_] = MappedBlock();
  }
  frame_segments_.clear();
  entry_segments_.clear();
  std::vector<uint64_t>().swap(pcs_);
  size_ = 0;
  frames_end_ = 0;
}

size_t StackStore::bytes() const {
  return frames_end_ * sizeof(uint32_t) + size_ * sizeof(StoredStack) + index_slots_ * sizeof(IndexSlot) +
         pcs_.capacity() * sizeof(uint64_t) + numbers_.size() * kNumberBytes;
}

}  // namespace gotrace
