#include "symbolizer/pclntab.h"

#include <algorithm>

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
  uint8_t nfuncdata = 0;
  uint64_t pcdata_off = 0;    // offset of pcdata[0] in functab_area_
  uint64_t funcdata_off = 0;  // offset of funcdata[0] in functab_area_
};

// A pc-value table decoded into ranges: value[i] holds for pc offsets
// [end[i-1], end[i]) from the function entry.
struct DecodedTable {
  std::vector<uint32_t> end;
  std::vector<int32_t> value;

  std::optional<int32_t> lookup(uint64_t offset) const {
    auto it = std::upper_bound(end.begin(), end.end(), offset);
    if (it == end.end()) return std::nullopt;
    return value[it - end.begin()];
  }
  uint64_t bytes() const { return end.capacity() * 4 + value.capacity() * 4; }
};

struct Pclntab::DecodedFunc {
  FuncRecord record;
  std::string_view name;
  DecodedTable files, lines, inline_index;
  bool has_inline_tree = false;
  ByteView inline_tree;  // entries from the first one to the end of its segment
};

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
  if (!nfuncdata || r.npcdata > kMaxPcdata) return std::nullopt;
  r.nfuncdata = *nfuncdata;
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

std::optional<FunctionInfo> Pclntab::function_for_pc(uint64_t pc) const {
  if (pc < min_pc() || pc >= max_pc()) return std::nullopt;
  // Largest index whose entry <= pc (entries are sorted, checked at load).
  uint64_t lo = 0, hi = nfunc_;
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (entry_at(mid) <= pc) lo = mid; else hi = mid;
  }
  return function(lo);
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
  if (auto it = cache_.find(index); it != cache_.end()) return it->second.get();
  auto record = func_record(index);
  if (!record || record->end <= record->entry) return nullptr;

  auto func = std::make_unique<DecodedFunc>();
  func->record = *record;
  func->name = func_name(record->name_off);
  // A table has at most one range per byte of the function (plus slack for
  // empty ranges), which bounds decoding of a corrupt table.
  uint64_t length = record->end - record->entry;
  uint64_t max_steps = length + 64;
  auto decode = [&](uint32_t offset, DecodedTable* out) {
    if (offset == 0) return;  // no table
    decode_pcvalue_table(pctab_, offset, 0, max_steps, [&](uint64_t, uint64_t end, int64_t value) {
      if (end > length) end = length;
      if (!out->end.empty() && end <= out->end.back()) return;
      out->end.push_back(static_cast<uint32_t>(end));
      out->value.push_back(static_cast<int32_t>(value));
    });
  };
  decode(record->pcfile, &func->files);
  decode(record->pcln, &func->lines);

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
        func->inline_tree = *tree;
        func->has_inline_tree = true;
        decode(*inl_table, &func->inline_index);
      }
    }
  }

  uint64_t bytes = sizeof(DecodedFunc) + func->files.bytes() + func->lines.bytes() + func->inline_index.bytes();
  if (cache_bytes_ + bytes > kMaxCacheBytes) {
    cache_.clear();
    cache_bytes_ = 0;
  }
  cache_bytes_ += bytes;
  return cache_.emplace(index, std::move(func)).first->second.get();
}

const char* Pclntab::symbolize(uint64_t pc, bool return_address, std::vector<Frame>* frames) const {
  uint64_t target = return_address && pc > 0 ? pc - 1 : pc;
  auto info = function_for_pc(target);
  if (!info) return "address outside the Go text";
  const DecodedFunc* func = decoded(info->index);
  if (func == nullptr) return "corrupt function record";
  uint64_t offset = target - func->record.entry;
  auto line = func->lines.lookup(offset);
  if (!line) return "no line information for this address (padding between functions?)";

  auto file_at = [&](uint64_t at) { return file_name(func->record, func->files.lookup(at).value_or(-1)); };
  if (func->has_inline_tree) {
    // Go 1.20+ entries are {funcID u8, pad, nameOff i32, parentPc i32, startLine i32};
    // 1.16–1.19 are {parent i16, funcID u8, pad, file i32, line i32, func_ i32, parentPc i32}.
    bool new_layout = format_ == PclntabFormat::kGo120;
    uint64_t entry_size = new_layout ? 16 : 20;
    uint64_t name_at = new_layout ? 4 : 12;
    uint64_t parent_pc_at = new_layout ? 8 : 16;
    uint64_t length = func->record.end - func->record.entry;
    for (int depth = 0; depth < kMaxInlineDepth; ++depth) {
      auto ix = func->inline_index.lookup(offset);
      if (!ix || *ix < 0) break;
      auto name_off = func->inline_tree.read<int32_t>(uint64_t(*ix) * entry_size + name_at);
      auto parent_pc = func->inline_tree.read<int32_t>(uint64_t(*ix) * entry_size + parent_pc_at);
      int64_t start_line = new_layout ? func->inline_tree.read<int32_t>(uint64_t(*ix) * entry_size + 12).value_or(0) : 0;
      if (!name_off || !parent_pc || *parent_pc < 0 || uint64_t(*parent_pc) >= length) {
        frames->push_back({"?", file_at(offset), func->lines.lookup(offset).value_or(0), 0, true});
        break;
      }
      frames->push_back({func_name(*name_off), file_at(offset), func->lines.lookup(offset).value_or(0), start_line, true});
      offset = *parent_pc;  // the call site's position; no -1 (see runtime/symtabinl.go)
    }
  }
  frames->push_back({func->name, file_at(offset), func->lines.lookup(offset).value_or(0), func->record.start_line, false});
  return nullptr;
}

}  // namespace gotrace
