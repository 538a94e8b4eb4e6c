#include "symbolizer/pclntab.h"

#include <algorithm>
#include <memory>

namespace gotrace {
namespace {

constexpr uint32_t kMagicGo116 = 0xfffffffa;
constexpr uint32_t kMagicGo118 = 0xfffffff0;
constexpr uint32_t kMagicGo120 = 0xfffffff1;
constexpr uint32_t kMagicGo12 = 0xfffffffb;  // Go 1.2–1.15: refused

// Bounds against hostile headers: no real Go binary comes near these.
constexpr uint64_t kMaxFunctions = 16 * 1024 * 1024;
constexpr uint32_t kMaxPcdata = 1024;
// Text per entry of the PC → function index (4 bytes per KiB of text), and
// the largest text it is built for (a hostile header can claim 2^64 bytes).
constexpr uint64_t kPcBucketShift = 10;
constexpr uint64_t kMaxIndexedText = uint64_t(1) << 30;

}  // namespace

std::string_view to_string(PclntabFormat format) {
  switch (format) {
    case PclntabFormat::kGo116: return "go1.16";
    case PclntabFormat::kGo118: return "go1.18";
    case PclntabFormat::kGo120: return "go1.20";
  }
  return "unknown";
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
  // runtime._func starts with the entry: a uintptr before Go 1.18, a 32-bit
  // offset from the text start since. The fields after it keep their order.
  uint64_t fields = funcoff + (format_ == PclntabFormat::kGo116 ? 8 : 4);
  auto name_off = functab_area_.read<int32_t>(fields);
  auto pcfile = functab_area_.read<uint32_t>(fields + 16);
  auto pcln = functab_area_.read<uint32_t>(fields + 20);
  auto npcdata = functab_area_.read<uint32_t>(fields + 24);
  auto cu = functab_area_.read<uint32_t>(fields + 28);
  if (!name_off || !pcfile || !pcln || !npcdata || !cu) return std::nullopt;
  r.name_off = *name_off, r.pcfile = *pcfile, r.pcln = *pcln, r.npcdata = *npcdata, r.cu_offset = *cu;
  if (format_ == PclntabFormat::kGo120) r.start_line = functab_area_.read<int32_t>(fields + 32).value_or(0);
  uint64_t fixed = format_ == PclntabFormat::kGo118 ? 40 : 44;  // size of the fixed part of _func
  // funcID, flag and nfuncdata are the fourth, third and last bytes of the
  // fixed part in every format.
  auto func_id = functab_area_.read<uint8_t>(funcoff + fixed - 4);
  auto func_flag = functab_area_.read<uint8_t>(funcoff + fixed - 3);
  auto nfuncdata = functab_area_.read<uint8_t>(funcoff + fixed - 1);
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

}  // namespace gotrace
