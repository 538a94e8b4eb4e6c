#include "symbolizer/pclntab.h"

#include <algorithm>
#include <memory>

namespace gotrace {
namespace {

constexpr uint32_t kMagicGo116 = 0xfffffffa;
constexpr uint32_t kMagicGo118 = 0xfffffff0;
constexpr uint32_t kMagicGo120 = 0xfffffff1;
constexpr uint32_t kMagicGo12 = 0xfffffffb;  // Go 1.2–1.15: refused

// internal/abi/symtab.go; unchanged from Go 1.16 to 1.27.
constexpr uint32_t kPcdataInlTreeIndex = 2;
constexpr uint32_t kFuncdataInlTree = 3;

// Bounds against hostile headers: no real Go binary comes near these.
constexpr uint64_t kMaxFunctions = 16 * 1024 * 1024;
constexpr uint32_t kMaxPcdata = 1024;
constexpr int kMaxInlineDepth = 256;
// Decoded per-function tables are dropped wholesale past this size, which
// keeps a long-running tracer's memory flat whatever the PC mix.
constexpr uint64_t kMaxCacheBytes = 16 * 1024 * 1024;
// Text per entry of the PC → function index (4 bytes per KiB of text), and
// the largest text it is built for (a hostile header can claim 2^64 bytes).
constexpr uint64_t kPcBucketShift = 10;
constexpr uint64_t kMaxIndexedText = uint64_t(1) << 30;
// "No index": a file or inline-tree position that has no value.
constexpr uint32_t kNoIndex = 0xffffffff;

}  // namespace

std::string_view to_string(PclntabFormat format) {
  switch (format) {
    case PclntabFormat::kGo116: return "go1.16";
    case PclntabFormat::kGo118: return "go1.18";
    case PclntabFormat::kGo120: return "go1.20";
  }
  return "unknown";
}

// The fields of runtime._func that symbolization needs.
struct Pclntab::FuncRecord {
  uint64_t entry = 0;
  uint64_t end = 0;
  int32_t name_off = 0;
  uint32_t pcfile = 0;
  uint32_t pcln = 0;
  uint32_t npcdata = 0;
  uint32_t cu_offset = 0;
  int32_t start_line = 0;  // Go 1.20+
  uint8_t func_id = 0;
  uint8_t func_flag = 0;  // Go 1.17+; padding before
  uint8_t nfuncdata = 0;
  uint64_t pcdata_off = 0;    // offset of pcdata[0] in functab_area_
  uint64_t funcdata_off = 0;  // offset of funcdata[0] in functab_area_
};

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

namespace {

// A pc-value table decoded into ranges: ranges[i].value holds for offsets
// [ranges[i-1].end, ranges[i].end); the first range starts at offset 0.
struct Range {
  uint32_t end;
  int32_t value;
};

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

Pclntab::~Pclntab() = default;

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

bool Pclntab::has_signature(ByteView bytes) {
  auto magic = bytes.read<uint32_t>(0);
  if (!magic || (*magic != kMagicGo116 && *magic != kMagicGo118 && *magic != kMagicGo120)) return false;
  auto tail = bytes.read<uint32_t>(4);  // pad1, pad2, minLC, ptrSize
  return tail && *tail == 0x08010000;
}

bool Pclntab::has_legacy_signature(ByteView bytes) {
  auto magic = bytes.read<uint32_t>(0);
  auto tail = bytes.read<uint32_t>(4);
  return magic && tail && *magic == kMagicGo12 && *tail == 0x08010000;
}

std::optional<PclntabHeader> Pclntab::peek_header(ByteView bytes) {
  if (!has_signature(bytes)) return std::nullopt;
  uint32_t magic = bytes.read_unchecked<uint32_t>(0);
  PclntabFormat format = magic == kMagicGo116   ? PclntabFormat::kGo116
                         : magic == kMagicGo118 ? PclntabFormat::kGo118
                                                : PclntabFormat::kGo120;
  auto funcname = bytes.read<uint64_t>(format == PclntabFormat::kGo116 ? 24 : 32);
  if (!funcname) return std::nullopt;
  return PclntabHeader{format, *funcname};
}

Result<std::unique_ptr<Pclntab>> Pclntab::parse(const PclntabLocation& location, VaddrReader read_vaddr,
                                                std::string_view name) {
  std::unique_ptr<Pclntab> table(new Pclntab());
  table->table_ = location.bytes;
  table->vaddr_ = location.vaddr;
  table->gofunc_ = location.gofunc;
  table->read_vaddr_ = std::move(read_vaddr);
  if (Status status = table->parse_header(name); !status) return status.error();
  if (location.text_start) table->text_start_ = *location.text_start;
  if (table->format_ != PclntabFormat::kGo116 && table->text_start_ == 0)
    return make_error("'{}': pclntab has no text start and the module data was not found", name);

  // The function table must be sorted for binary search to be right; check
  // it once here so that lookups can trust it.
  uint64_t previous = 0;
  for (uint64_t i = 0; i <= table->nfunc_; ++i) {
    uint64_t entry = table->entry_at(i);
    if (entry < previous) return make_error("'{}': corrupt pclntab (function table not sorted)", name);
    previous = entry;
  }
  uint64_t lo = table->min_pc();
  if (table->max_pc() - lo <= kMaxIndexedText) {
    uint64_t buckets = ((table->max_pc() - lo) >> kPcBucketShift) + 2;
    table->pc_buckets_.resize(buckets);
    uint64_t f = 0;
    for (uint64_t b = 0; b < buckets; ++b) {
      uint64_t pc = lo + (b << kPcBucketShift);
      while (f + 1 < table->nfunc_ && table->entry_at(f + 1) <= pc) ++f;
      table->pc_buckets_[b] = static_cast<uint32_t>(f);
    }
  }
  return table;
}

Status Pclntab::parse_header(std::string_view name) {
  if (has_legacy_signature(table_))
    return make_error("'{}': Go binary older than Go 1.16 (pclntab format go1.2) is not supported", name);
  if (!has_signature(table_)) return make_error("'{}': corrupt pclntab (bad header)", name);
  format_ = peek_header(table_)->format;
  uint64_t word = format_ == PclntabFormat::kGo116 ? 24 : 32;  // first offset field
  auto nfunc = table_.read<uint64_t>(8);
  auto text = table_.read<uint64_t>(24);
  auto funcname = table_.read<uint64_t>(word);
  auto cu = table_.read<uint64_t>(word + 8);
  auto filetab = table_.read<uint64_t>(word + 16);
  auto pctab = table_.read<uint64_t>(word + 24);
  auto pcln = table_.read<uint64_t>(word + 32);
  if (!nfunc || !text || !funcname || !cu || !filetab || !pctab || !pcln)
    return make_error("'{}': corrupt pclntab (truncated header)", name);
  if (*nfunc == 0 || *nfunc > kMaxFunctions)
    return make_error("'{}': corrupt pclntab (implausible function count {})", name, *nfunc);
  // The linker lays the areas out in this order; each ends where the next begins.
  uint64_t size = table_.size();
  if (!(word + 40 <= *funcname && *funcname <= *cu && *cu <= *filetab && *filetab <= *pctab &&
        *pctab <= *pcln && *pcln <= size))
    return make_error("'{}': corrupt pclntab (area offsets out of order or out of bounds)", name);
  funcnametab_off_ = *funcname;
  funcnametab_ = *table_.subview(*funcname, *cu - *funcname);
  cutab_ = *table_.subview(*cu, *filetab - *cu);
  filetab_ = *table_.subview(*filetab, *pctab - *filetab);
  pctab_ = *table_.subview(*pctab, *pcln - *pctab);
  functab_area_ = table_.tail(*pcln);
  nfunc_ = *nfunc;
  functab_entry_size_ = format_ == PclntabFormat::kGo116 ? 16 : 8;
  if (!functab_area_.contains(0, (nfunc_ + 1) * functab_entry_size_))
    return make_error("'{}': corrupt pclntab (function table truncated)", name);
  if (format_ != PclntabFormat::kGo116) {
    // Go 1.26 stopped storing textStart here (it is 0); moduledata has it.
    header_text_start_ = *text;
    text_start_ = *text;
  }
  return Ok{};
}

uint64_t Pclntab::min_pc() const { return entry_at(0); }
uint64_t Pclntab::max_pc() const { return entry_at(nfunc_); }

uint64_t Pclntab::entry_at(uint64_t index) const {
  // index <= nfunc_ was checked to lie inside functab_area_ by parse_header().
  if (format_ == PclntabFormat::kGo116) return functab_area_.read_unchecked<uint64_t>(index * 16);
  return text_start_ + functab_area_.read_unchecked<uint32_t>(index * 8);
}

FunctionInfo Pclntab::function(uint32_t index) const {
  FunctionInfo info;
  info.index = index;
  info.entry = entry_at(index);
  if (index < nfunc_) {
    info.end = entry_at(index + 1);
    if (auto record = func_record(index)) info.name = func_name(record->name_off);
  }
  return info;
}

std::optional<Pclntab::FuncRecord> Pclntab::func_record(uint32_t index) const {
  if (index >= nfunc_) return std::nullopt;
  FuncRecord r;
  uint64_t funcoff;
  if (format_ == PclntabFormat::kGo116) {
    funcoff = functab_area_.read_unchecked<uint64_t>(uint64_t(index) * 16 + 8);
  } else {
    funcoff = functab_area_.read_unchecked<uint32_t>(uint64_t(index) * 8 + 4);
  }
  r.entry = entry_at(index);
  r.end = entry_at(index + 1);
  uint64_t fixed;  // size of the fixed part of _func
  uint64_t nfuncdata_at;
  if (format_ == PclntabFormat::kGo116) {
    fixed = 44;
    nfuncdata_at = 43;
    auto name_off = functab_area_.read<int32_t>(funcoff + 8);
    auto pcfile = functab_area_.read<uint32_t>(funcoff + 24);
    auto pcln = functab_area_.read<uint32_t>(funcoff + 28);
    auto npcdata = functab_area_.read<uint32_t>(funcoff + 32);
    auto cu = functab_area_.read<uint32_t>(funcoff + 36);
    if (!name_off || !pcfile || !pcln || !npcdata || !cu) return std::nullopt;
    r.name_off = *name_off, r.pcfile = *pcfile, r.pcln = *pcln, r.npcdata = *npcdata, r.cu_offset = *cu;
  } else {
    fixed = format_ == PclntabFormat::kGo118 ? 40 : 44;
    nfuncdata_at = fixed - 1;
    auto name_off = functab_area_.read<int32_t>(funcoff + 4);
    auto pcfile = functab_area_.read<uint32_t>(funcoff + 20);
    auto pcln = functab_area_.read<uint32_t>(funcoff + 24);
    auto npcdata = functab_area_.read<uint32_t>(funcoff + 28);
    auto cu = functab_area_.read<uint32_t>(funcoff + 32);
    if (!name_off || !pcfile || !pcln || !npcdata || !cu) return std::nullopt;
    r.name_off = *name_off, r.pcfile = *pcfile, r.pcln = *pcln, r.npcdata = *npcdata, r.cu_offset = *cu;
    if (format_ == PclntabFormat::kGo120) r.start_line = functab_area_.read<int32_t>(funcoff + 36).value_or(0);
  }
  auto nfuncdata = functab_area_.read<uint8_t>(funcoff + nfuncdata_at);
  // funcID and flag are the fourth and third bytes from the end of the
  // fixed part in every format.
  auto func_id = functab_area_.read<uint8_t>(funcoff + fixed - 4);
  auto func_flag = functab_area_.read<uint8_t>(funcoff + fixed - 3);
  if (!nfuncdata || !func_id || !func_flag || r.npcdata > kMaxPcdata) return std::nullopt;
  r.nfuncdata = *nfuncdata;
  r.func_id = *func_id;
  r.func_flag = *func_flag;
  r.pcdata_off = funcoff + fixed;
  r.funcdata_off = r.pcdata_off + uint64_t(r.npcdata) * 4;
  if (format_ == PclntabFormat::kGo116) {
    // funcdata are pointers, aligned to 8 in memory (runtime.funcdata).
    uint64_t functab_vaddr = vaddr_ + (functab_area_.data() - table_.data());
    if ((functab_vaddr + r.funcdata_off) & 4) r.funcdata_off += 4;
  }
  return r;
}

std::string_view Pclntab::func_name(int64_t name_off) const {
  if (name_off < 0) return "?";
  return funcnametab_.cstring(name_off, 1 << 20).value_or("?");
}

std::string_view Pclntab::file_name(const FuncRecord& record, int64_t file_number) const {
  if (file_number < 0) return "?";
  auto file_off = cutab_.read<uint32_t>((uint64_t(record.cu_offset) + file_number) * 4);
  if (!file_off || *file_off == 0xffffffff) return "?";
  return filetab_.cstring(*file_off, 1 << 20).value_or("?");
}

uint32_t Pclntab::function_index(uint64_t pc) const {
  // The largest index whose entry <= pc (entries are sorted, checked at
  // load), between the functions holding the bucket's first byte and the
  // next bucket's.
  uint64_t lo = 0, hi = nfunc_;
  if (!pc_buckets_.empty()) {
    uint64_t b = (pc - min_pc()) >> kPcBucketShift;
    lo = pc_buckets_[b];
    hi = std::min<uint64_t>(uint64_t(pc_buckets_[b + 1]) + 1, nfunc_);
  }
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (entry_at(mid) <= pc) lo = mid; else hi = mid;
  }
  return static_cast<uint32_t>(lo);
}

std::optional<FunctionInfo> Pclntab::function_for_pc(uint64_t pc) const {
  if (pc < min_pc() || pc >= max_pc()) return std::nullopt;
  return function(function_index(pc));
}

std::optional<uint8_t> Pclntab::func_id(const FunctionInfo& function) const {
  auto record = func_record(function.index);
  if (!record) return std::nullopt;
  return record->func_id;
}

std::optional<FunctionInfo> Pclntab::find_function(std::string_view name) const {
  for (uint32_t i = 0; i < nfunc_; ++i) {
    auto record = func_record(i);
    if (record && func_name(record->name_off) == name) return function(i);
  }
  return std::nullopt;
}

void Pclntab::for_each_function(const std::function<void(const FunctionInfo&)>& visit) const {
  for (uint32_t i = 0; i < nfunc_; ++i) visit(function(i));
}

const Pclntab::DecodedFunc* Pclntab::decoded(uint32_t index) const {
  if (index >= nfunc_) return nullptr;
  if (cache_.empty()) cache_.resize(nfunc_);
  if (cache_[index]) return cache_[index].get();
  auto record = func_record(index);
  if (!record || record->end <= record->entry) return nullptr;
  uint64_t length = record->end - record->entry;
  if (length > 0xffffffff) return nullptr;  // offsets are 32-bit; no real function is 4 GiB

  // A table has at most one range per byte of the function (plus slack for
  // empty ranges), which bounds decoding of a corrupt table.
  uint64_t max_steps = length + 64;
  auto decode = [&](uint32_t offset) {
    std::vector<Range> out;
    if (offset == 0) return out;  // no table
    decode_pcvalue_table(pctab_, offset, 0, max_steps, [&](uint64_t, uint64_t end, int64_t value) {
      if (end > length) end = length;
      if (!out.empty() && end <= out.back().end) return;
      out.push_back({static_cast<uint32_t>(end), static_cast<int32_t>(value)});
    });
    return out;
  };
  std::vector<Range> lines = decode(record->pcln);
  std::vector<Range> files = decode(record->pcfile);
  std::vector<Range> inl;
  ByteView inline_tree;
  if (record->npcdata > kPcdataInlTreeIndex && record->nfuncdata > kFuncdataInlTree) {
    auto inl_table = functab_area_.read<uint32_t>(record->pcdata_off + 4 * kPcdataInlTreeIndex);
    std::optional<uint64_t> tree_vaddr;
    if (format_ == PclntabFormat::kGo116) {
      auto ptr = functab_area_.read<uint64_t>(record->funcdata_off + 8 * kFuncdataInlTree);
      if (ptr && *ptr != 0) tree_vaddr = *ptr;
    } else if (gofunc_) {
      auto off = functab_area_.read<uint32_t>(record->funcdata_off + 4 * kFuncdataInlTree);
      if (off && *off != 0xffffffff) tree_vaddr = *gofunc_ + *off;
    }
    if (inl_table && *inl_table != 0 && tree_vaddr) {
      if (auto tree = read_vaddr_(*tree_vaddr)) {
        inline_tree = *tree;
        inl = decode(*inl_table);
      }
    }
  }

  // Resolve each distinct file number and inline-tree index once.
  std::vector<uint32_t> file_of_range, inl_of_range;
  std::vector<int32_t> file_numbers = index_values(files, false, &file_of_range);
  std::vector<int32_t> tree_indexes = index_values(inl, true, &inl_of_range);
  std::vector<std::string_view> file_names;
  file_names.reserve(file_numbers.size());
  for (int32_t number : file_numbers) file_names.push_back(file_name(*record, number));
  // Go 1.20+ entries are {funcID u8, pad, nameOff i32, parentPc i32, startLine i32};
  // 1.16–1.19 are {parent i16, funcID u8, pad, file i32, line i32, func_ i32, parentPc i32}.
  bool new_layout = format_ == PclntabFormat::kGo120;
  uint64_t entry_size = new_layout ? 16 : 20;
  uint64_t name_at = new_layout ? 4 : 12;
  uint64_t parent_pc_at = new_layout ? 8 : 16;
  uint64_t func_id_at = new_layout ? 0 : 2;
  std::vector<DecodedFunc::Inlined> inlined;
  inlined.reserve(tree_indexes.size());
  for (int32_t ix : tree_indexes) {
    auto name_off = inline_tree.read<int32_t>(uint64_t(ix) * entry_size + name_at);
    auto parent_pc = inline_tree.read<int32_t>(uint64_t(ix) * entry_size + parent_pc_at);
    if (!name_off || !parent_pc || *parent_pc < 0 || uint64_t(*parent_pc) >= length) {
      inlined.push_back({"?", 0, 0, 0, false});
      continue;
    }
    int32_t start_line = new_layout ? inline_tree.read<int32_t>(uint64_t(ix) * entry_size + 12).value_or(0) : 0;
    uint8_t func_id = inline_tree.read<uint8_t>(uint64_t(ix) * entry_size + func_id_at).value_or(0);
    inlined.push_back({func_name(*name_off), start_line, static_cast<uint32_t>(*parent_pc), func_id, true});
  }

  // Merge the three tables on the union of their range ends; neighbours
  // that come out equal are joined.
  std::vector<uint32_t> ends;
  std::vector<DecodedFunc::Position> positions;
  ends.reserve(lines.size());
  positions.reserve(lines.size());
  size_t l = 0, f = 0, i = 0;
  for (uint32_t start = 0;;) {
    while (l < lines.size() && lines[l].end <= start) ++l;
    while (f < files.size() && files[f].end <= start) ++f;
    while (i < inl.size() && inl[i].end <= start) ++i;
    if (l == lines.size() && f == files.size() && i == inl.size()) break;
    uint32_t next = 0xffffffff;
    if (l < lines.size()) next = std::min(next, lines[l].end);
    if (f < files.size()) next = std::min(next, files[f].end);
    if (i < inl.size()) next = std::min(next, inl[i].end);
    DecodedFunc::Position position{l < lines.size() ? lines[l].value : 0,
                                   f < files.size() ? file_of_range[f] : kNoIndex,
                                   i < inl.size() ? inl_of_range[i] : kNoIndex};
    if (!positions.empty() && positions.back().line == position.line && positions.back().file == position.file &&
        positions.back().inl == position.inl) {
      ends.back() = next;
    } else {
      ends.push_back(next);
      positions.push_back(position);
    }
    start = next;
  }

  auto align8 = [](uint64_t n) { return (n + 7) & ~uint64_t(7); };
  uint64_t positions_at = align8(sizeof(DecodedFunc) + ends.size() * sizeof(uint32_t));
  uint64_t file_names_at = align8(positions_at + positions.size() * sizeof(DecodedFunc::Position));
  uint64_t inlined_at = align8(file_names_at + file_names.size() * sizeof(std::string_view));
  uint64_t bytes = inlined_at + inlined.size() * sizeof(DecodedFunc::Inlined);
  if (bytes > 0xffffffff) return nullptr;  // cannot happen for a function under 4 GiB of code
  std::unique_ptr<DecodedFunc> func(new (bytes) DecodedFunc());
  func->entry = record->entry;
  func->name = func_name(record->name_off);
  func->start_line = record->start_line;
  func->func_id = record->func_id;
  func->func_flag = record->func_flag;
  func->count = static_cast<uint32_t>(ends.size());
  func->lines_end = lines.empty() ? 0 : lines.back().end;
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

  if (cache_bytes_ + bytes > kMaxCacheBytes) {
    for (uint32_t i : cached_indexes_) cache_[i].reset();
    cached_indexes_.clear();
    cache_bytes_ = 0;
  }
  cache_bytes_ += bytes;
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
