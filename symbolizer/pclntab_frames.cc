// PC → frames: each function's pc-value tables (lines, files, inlining) are
// decoded once into one compact table of positions, kept in a bounded cache,
// and read by Pclntab::symbolize().
#include "symbolizer/pclntab.h"

#include <algorithm>
#include <memory>

namespace gotrace {
namespace {

// internal/abi/symtab.go; unchanged from Go 1.16 to 1.27.
constexpr uint32_t kPcdataInlTreeIndex = 2;
constexpr uint32_t kFuncdataInlTree = 3;

// Bounds against hostile tables: no real Go binary comes near these.
constexpr int kMaxInlineDepth = 256;
// Decoded per-function tables are dropped wholesale past this size, which
// keeps a long-running tracer's memory flat whatever the PC mix.
constexpr uint64_t kMaxCacheBytes = 16 * 1024 * 1024;
// "No index": a file or inline-tree position that has no value.
constexpr uint32_t kNoIndex = 0xffffffff;

// A pc-value table decoded into ranges: ranges[i].value holds for offsets
// [ranges[i-1].end, ranges[i].end); the first range starts at offset 0.
struct Range {
  uint32_t end;
  int32_t value;
};

// The ranges of the table at `offset` in `pctab` (none for offset 0, which
// means the function has no such table), clipped to the function's length.
std::vector<Range> decode_ranges(ByteView pctab, uint32_t offset, uint64_t length) {
  std::vector<Range> out;
  if (offset == 0) return out;
  // A table has at most one range per byte of the function (plus slack for
  // empty ranges), which bounds decoding of a corrupt table.
  decode_pcvalue_table(pctab, offset, 0, length + 64, [&](uint64_t, uint64_t end, int64_t value) {
    if (end > length) end = length;
    if (!out.empty() && end <= out.back().end) return;
    out.push_back({static_cast<uint32_t>(end), static_cast<int32_t>(value)});
  });
  return out;
}

// The distinct values of `ranges`, sorted, and in `index_of_range` the
// position of each range's value among them (kNoIndex for negative values
// when `negative_is_none`).
std::vector<int32_t> index_values(const std::vector<Range>& ranges, bool negative_is_none,
                                  std::vector<uint32_t>* index_of_range) {
  std::vector<int32_t> values;
  for (const Range& r : ranges)
    if (!(negative_is_none && r.value < 0)) values.push_back(r.value);
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  index_of_range->clear();
  index_of_range->reserve(ranges.size());
  for (const Range& r : ranges) {
    if (negative_is_none && r.value < 0) {
      index_of_range->push_back(kNoIndex);
    } else {
      auto at = std::lower_bound(values.begin(), values.end(), r.value);
      index_of_range->push_back(static_cast<uint32_t>(at - values.begin()));
    }
  }
  return values;
}

}  // namespace

bool decode_pcvalue_table(ByteView pctab, uint64_t offset, uint64_t entry, uint64_t max_steps,
                          const std::function<void(uint64_t, uint64_t, int64_t)>& visit) {
  // runtime.step: a zig-zag value delta then a pc delta, both uvarints; a
  // zero value delta after the first pair ends the table. Arithmetic is on
  // 32 bits exactly as the runtime does it.
  int32_t value = -1;
  uint64_t pc = entry;
  for (uint64_t step = 0; step < max_steps; ++step) {
    auto value_delta = pctab.uvarint(&offset);
    if (!value_delta) return false;
    if (*value_delta == 0 && step > 0) return true;
    uint32_t uv = static_cast<uint32_t>(*value_delta);
    value = static_cast<int32_t>(static_cast<uint32_t>(value) + ((uv >> 1) ^ (0u - (uv & 1))));
    auto pc_delta = pctab.uvarint(&offset);
    if (!pc_delta) return false;
    uint64_t start = pc;
    pc += static_cast<uint32_t>(*pc_delta);  // PC quantum is 1 on amd64
    visit(start, pc, value);
  }
  return true;
}

// One function's pcln, pcfile and inline tables, decoded once and merged
// into a single table of positions: position i holds for pc offsets
// [ends[i-1], ends[i]) from the entry. File numbers and inline-tree entries
// are resolved to names when the function is decoded, so a lookup is one
// binary search over 32-bit ends and reads nothing outside this object,
// which is a single allocation:
//
//   this header, uint32_t ends[count], Position positions[count],
//   std::string_view file_names[file_count], Inlined inlined[inlined_count]
struct Pclntab::DecodedFunc {
  struct Position {
    int32_t line;   // meaningful only below lines_end
    uint32_t file;  // index into file_names, or kNoIndex ("?")
    uint32_t inl;   // index into inlined, or kNoIndex (no inlined frame here)
  };
  struct Inlined {
    std::string_view name;
    int32_t start_line;  // 0 before Go 1.20
    uint32_t parent_pc;  // the call site, as an offset from the entry
    uint8_t func_id;
    bool valid;          // false: unreadable entry or parent pc out of range
  };

  uint64_t entry = 0;
  std::string_view name;
  int32_t start_line = 0;
  uint8_t func_id = 0;
  uint8_t func_flag = 0;
  uint32_t count = 0;
  uint32_t lines_end = 0;  // the pcln table covers offsets [0, lines_end)
  uint32_t positions_at = 0, file_names_at = 0, inlined_at = 0;  // byte offsets from `this`
  uint64_t bytes = 0;                                            // of the whole allocation

  // The trailing arrays share the allocation: `new (total_bytes) DecodedFunc`.
  static void* operator new(size_t size, size_t total) { return ::operator new(std::max(size, total)); }
  static void operator delete(void* p, size_t) { ::operator delete(p); }
  static void operator delete(void* p) { ::operator delete(p); }

  template <typename T>
  const T* array_at(uint64_t at) const {
    return reinterpret_cast<const T*>(reinterpret_cast<const char*>(this) + at);
  }
  const uint32_t* ends() const { return array_at<uint32_t>(sizeof(DecodedFunc)); }

  // The position holding at `offset`, or nullptr past the end of every table.
  const Position* at(uint64_t offset) const {
    const uint32_t* e = ends();
    if (count == 0 || offset >= e[count - 1]) return nullptr;
    // Branch-free search for the first end > offset (which exists).
    uint32_t lo = 0, n = count;
    while (n > 1) {
      uint32_t half = n / 2;
      lo = e[lo + half - 1] <= offset ? lo + half : lo;
      n -= half;
    }
    return array_at<Position>(positions_at) + lo;
  }
  std::string_view file(const Position* p) const {
    return p != nullptr && p->file != kNoIndex ? array_at<std::string_view>(file_names_at)[p->file] : "?";
  }
  int64_t line(const Position* p, uint64_t offset) const { return p != nullptr && offset < lines_end ? p->line : 0; }
  const Inlined& inlined(uint32_t index) const { return array_at<Inlined>(inlined_at)[index]; }
};

// Builds the DecodedFunc of one function record (of under 4 GiB of code).
class Pclntab::FunctionDecoder {
 public:
  FunctionDecoder(const Pclntab& table, const FuncRecord& record)
      : table_(table), record_(record), length_(record.end - record.entry) {}

  // nullptr only for a table too large to index with 32 bits.
  std::unique_ptr<DecodedFunc> decode();

 private:
  void read_inline_ranges();
  std::vector<std::string_view> resolve_files();
  std::vector<DecodedFunc::Inlined> resolve_inlined();
  void merge(std::vector<uint32_t>* ends, std::vector<DecodedFunc::Position>* positions) const;
  std::unique_ptr<DecodedFunc> pack(const std::vector<uint32_t>& ends,
                                    const std::vector<DecodedFunc::Position>& positions,
                                    const std::vector<std::string_view>& file_names,
                                    const std::vector<DecodedFunc::Inlined>& inlined) const;

  const Pclntab& table_;
  const FuncRecord& record_;
  uint64_t length_;
  std::vector<Range> lines_, files_, inl_;
  ByteView inline_tree_;
  std::vector<uint32_t> file_of_range_, inl_of_range_;
};

std::unique_ptr<Pclntab::DecodedFunc> Pclntab::FunctionDecoder::decode() {
  lines_ = decode_ranges(table_.pctab_, record_.pcln, length_);
  files_ = decode_ranges(table_.pctab_, record_.pcfile, length_);
  read_inline_ranges();
  // Each distinct file number and inline-tree index is resolved once.
  std::vector<std::string_view> file_names = resolve_files();
  std::vector<DecodedFunc::Inlined> inlined = resolve_inlined();
  std::vector<uint32_t> ends;
  std::vector<DecodedFunc::Position> positions;
  merge(&ends, &positions);
  return pack(ends, positions, file_names, inlined);
}

// The inline tree lives outside the pclntab, in go:func.*; without it (or
// without moduledata.gofunc to find it from Go 1.18 on) the function has no
// inlined frames.
void Pclntab::FunctionDecoder::read_inline_ranges() {
  if (record_.npcdata <= kPcdataInlTreeIndex || record_.nfuncdata <= kFuncdataInlTree) return;
  const ByteView& functab = table_.functab_area_;
  auto inl_table = functab.read<uint32_t>(record_.pcdata_off + 4 * kPcdataInlTreeIndex);
  std::optional<uint64_t> tree_vaddr;
  if (table_.format_ == PclntabFormat::kGo116) {
    auto ptr = functab.read<uint64_t>(record_.funcdata_off + 8 * kFuncdataInlTree);
    if (ptr && *ptr != 0) tree_vaddr = *ptr;
  } else if (table_.gofunc_) {
    auto off = functab.read<uint32_t>(record_.funcdata_off + 4 * kFuncdataInlTree);
    if (off && *off != 0xffffffff) tree_vaddr = *table_.gofunc_ + *off;
  }
  if (!inl_table || *inl_table == 0 || !tree_vaddr) return;
  if (auto tree = table_.read_vaddr_(*tree_vaddr)) {
    inline_tree_ = *tree;
    inl_ = decode_ranges(table_.pctab_, *inl_table, length_);
  }
}

std::vector<std::string_view> Pclntab::FunctionDecoder::resolve_files() {
  std::vector<int32_t> file_numbers = index_values(files_, false, &file_of_range_);
  std::vector<std::string_view> file_names;
  file_names.reserve(file_numbers.size());
  for (int32_t number : file_numbers) file_names.push_back(table_.file_name(record_, number));
  return file_names;
}

std::vector<Pclntab::DecodedFunc::Inlined> Pclntab::FunctionDecoder::resolve_inlined() {
  std::vector<int32_t> tree_indexes = index_values(inl_, true, &inl_of_range_);
  // Go 1.20+ entries are {funcID u8, pad, nameOff i32, parentPc i32, startLine i32};
  // 1.16–1.19 are {parent i16, funcID u8, pad, file i32, line i32, func_ i32, parentPc i32}.
  bool new_layout = table_.format_ == PclntabFormat::kGo120;
  uint64_t entry_size = new_layout ? 16 : 20;
  uint64_t name_at = new_layout ? 4 : 12;
  uint64_t parent_pc_at = new_layout ? 8 : 16;
  uint64_t func_id_at = new_layout ? 0 : 2;
  std::vector<DecodedFunc::Inlined> inlined;
  inlined.reserve(tree_indexes.size());
  for (int32_t ix : tree_indexes) {
    uint64_t at = uint64_t(ix) * entry_size;
    auto name_off = inline_tree_.read<int32_t>(at + name_at);
    auto parent_pc = inline_tree_.read<int32_t>(at + parent_pc_at);
    if (!name_off || !parent_pc || *parent_pc < 0 || uint64_t(*parent_pc) >= length_) {
      inlined.push_back({"?", 0, 0, 0, false});
      continue;
    }
    int32_t start_line = new_layout ? inline_tree_.read<int32_t>(at + 12).value_or(0) : 0;
    uint8_t func_id = inline_tree_.read<uint8_t>(at + func_id_at).value_or(0);
    inlined.push_back({table_.func_name(*name_off), start_line, static_cast<uint32_t>(*parent_pc), func_id, true});
  }
  return inlined;
}

// Merges the three tables on the union of their range ends; neighbours that
// come out equal are joined.
void Pclntab::FunctionDecoder::merge(std::vector<uint32_t>* ends,
                                     std::vector<DecodedFunc::Position>* positions) const {
  ends->reserve(lines_.size());
  positions->reserve(lines_.size());
  size_t l = 0, f = 0, i = 0;
  for (uint32_t start = 0;;) {
    while (l < lines_.size() && lines_[l].end <= start) ++l;
    while (f < files_.size() && files_[f].end <= start) ++f;
    while (i < inl_.size() && inl_[i].end <= start) ++i;
    if (l == lines_.size() && f == files_.size() && i == inl_.size()) break;
    uint32_t next = 0xffffffff;
    if (l < lines_.size()) next = std::min(next, lines_[l].end);
    if (f < files_.size()) next = std::min(next, files_[f].end);
    if (i < inl_.size()) next = std::min(next, inl_[i].end);
    DecodedFunc::Position position{l < lines_.size() ? lines_[l].value : 0,
                                   f < files_.size() ? file_of_range_[f] : kNoIndex,
                                   i < inl_.size() ? inl_of_range_[i] : kNoIndex};
    const DecodedFunc::Position* last = positions->empty() ? nullptr : &positions->back();
    if (last != nullptr && last->line == position.line && last->file == position.file && last->inl == position.inl) {
      ends->back() = next;
    } else {
      ends->push_back(next);
      positions->push_back(position);
    }
    start = next;
  }
}

std::unique_ptr<Pclntab::DecodedFunc> Pclntab::FunctionDecoder::pack(
    const std::vector<uint32_t>& ends, const std::vector<DecodedFunc::Position>& positions,
    const std::vector<std::string_view>& file_names, const std::vector<DecodedFunc::Inlined>& inlined) const {
  auto align8 = [](uint64_t n) { return (n + 7) & ~uint64_t(7); };
  uint64_t positions_at = align8(sizeof(DecodedFunc) + ends.size() * sizeof(uint32_t));
  uint64_t file_names_at = align8(positions_at + positions.size() * sizeof(DecodedFunc::Position));
  uint64_t inlined_at = align8(file_names_at + file_names.size() * sizeof(std::string_view));
  uint64_t bytes = inlined_at + inlined.size() * sizeof(DecodedFunc::Inlined);
  if (bytes > 0xffffffff) return nullptr;  // cannot happen for a function under 4 GiB of code
  std::unique_ptr<DecodedFunc> func(new (bytes) DecodedFunc());
  func->entry = record_.entry;
  func->name = table_.func_name(record_.name_off);
  func->start_line = record_.start_line;
  func->func_id = record_.func_id;
  func->func_flag = record_.func_flag;
  func->count = static_cast<uint32_t>(ends.size());
  func->lines_end = lines_.empty() ? 0 : lines_.back().end;
  func->positions_at = static_cast<uint32_t>(positions_at);
  func->file_names_at = static_cast<uint32_t>(file_names_at);
  func->inlined_at = static_cast<uint32_t>(inlined_at);
  func->bytes = bytes;
  char* base = reinterpret_cast<char*>(func.get());
  std::uninitialized_copy(ends.begin(), ends.end(), reinterpret_cast<uint32_t*>(base + sizeof(DecodedFunc)));
  std::uninitialized_copy(positions.begin(), positions.end(),
                          reinterpret_cast<DecodedFunc::Position*>(base + positions_at));
  std::uninitialized_copy(file_names.begin(), file_names.end(),
                          reinterpret_cast<std::string_view*>(base + file_names_at));
  std::uninitialized_copy(inlined.begin(), inlined.end(), reinterpret_cast<DecodedFunc::Inlined*>(base + inlined_at));
  return func;
}

// Here, where DecodedFunc is complete: both may destroy the cache.
Pclntab::Pclntab() = default;
Pclntab::~Pclntab() = default;

const Pclntab::DecodedFunc* Pclntab::decoded(uint32_t index) const {
  if (index >= nfunc_) return nullptr;
  if (cache_.empty()) cache_.resize(nfunc_);
  if (cache_[index]) return cache_[index].get();
  auto record = func_record(index);
  if (!record || record->end <= record->entry) return nullptr;
  if (record->end - record->entry > 0xffffffff) return nullptr;  // offsets are 32-bit; no real function is 4 GiB
  std::unique_ptr<DecodedFunc> func = FunctionDecoder(*this, *record).decode();
  if (!func) return nullptr;

  if (cache_bytes_ + func->bytes > kMaxCacheBytes) {
    for (uint32_t i : cached_indexes_) cache_[i].reset();
    cached_indexes_.clear();
    cache_bytes_ = 0;
  }
  cache_bytes_ += func->bytes;
  cached_indexes_.push_back(index);
  cache_[index] = std::move(func);
  return cache_[index].get();
}

const char* Pclntab::symbolize(uint64_t pc, bool return_address, std::vector<Frame>* frames) const {
  uint64_t target = return_address && pc > 0 ? pc - 1 : pc;
  if (target < min_pc() || target >= max_pc()) return "address outside the Go text";
  const DecodedFunc* func = decoded(function_index(target));
  if (func == nullptr) return "corrupt function record";
  uint64_t offset = target - func->entry;
  if (offset >= func->lines_end) return "no line information for this address (padding between functions?)";

  // Inlined frames, innermost first: each inline-tree entry names the
  // function inlined at this position and its call site in the caller.
  const DecodedFunc::Position* position = func->at(offset);
  for (int depth = 0; depth < kMaxInlineDepth && position != nullptr && position->inl != kNoIndex; ++depth) {
    const DecodedFunc::Inlined& inlined = func->inlined(position->inl);
    frames->push_back({.function = inlined.name,
                       .file = func->file(position),
                       .line = func->line(position, offset),
                       .start_line = inlined.start_line,
                       .inlined = true,
                       .func_id = inlined.func_id});
    if (!inlined.valid) break;
    offset = inlined.parent_pc;  // the call site's position; no -1 (see runtime/symtabinl.go)
    position = func->at(offset);
  }
  frames->push_back({.function = func->name,
                     .file = func->file(position),
                     .line = func->line(position, offset),
                     .start_line = func->start_line,
                     .inlined = false,
                     .func_id = func->func_id,
                     .func_flag = func->func_flag});
  return nullptr;
}

}  // namespace gotrace
