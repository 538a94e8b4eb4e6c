// Go's pclntab: PC → function, file, line, with inlined frames expanded.
//
// Layouts follow the Go runtime's own reader (runtime/symtab.go,
// runtime/symtabinl.go, internal/abi/symtab.go) for the three formats since
// Go 1.16: magic 0xfffffffa (1.16–1.17), 0xfffffff0 (1.18–1.19) and
// 0xfffffff1 (1.20 onward). Older tables are refused.
//
// Every read is bounds-checked against the bytes the table was found in. A PC
// that cannot be resolved is not an error: lookups return the reason as data.
//
// Lookups are single-threaded: decoded per-function tables are cached inside
// the object (bounded in memory) so that repeated PCs of one function cost a
// binary search, not a table decode.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "symbolizer/byte_view.h"
#include "base/result.h"

namespace gotrace {

enum class PclntabFormat { kGo116, kGo118, kGo120 };
std::string_view to_string(PclntabFormat format);

// One logical frame. Strings point into the mapped binary and live as long as it.
struct Frame {
  std::string_view function;
  std::string_view file;
  int64_t line = 0;
  int64_t start_line = 0;  // line of the function's declaration; 0 when unknown (before Go 1.20)
  bool inlined = false;    // true for a frame the compiler inlined into its caller
  // The runtime's abi.FuncID of the function: which special function it is,
  // if any. The numbering changes between releases (see GoBinary::wrapper_func_id).
  uint8_t func_id = 0;
  // The runtime's abi.FuncFlag of the physical function (0 for an inlined
  // frame, and before Go 1.17): kFuncFlagTopFrame, kFuncFlagSpWrite, ...
  uint8_t func_flag = 0;
};

// abi.FuncFlag bits, the same since Go 1.17. The runtime's unwinder stops
// after a frame of either of these: the top of a stack (goexit, mstart,
// rt0_go), or a function that switches stacks (systemstack, mcall, morestack).
inline constexpr uint8_t kFuncFlagTopFrame = 1 << 0;
inline constexpr uint8_t kFuncFlagSpWrite = 1 << 1;

struct FunctionInfo {
  uint32_t index = 0;  // position in the function table
  std::string_view name;
  uint64_t entry = 0;  // link-time virtual address
  uint64_t end = 0;    // entry of the next function (exclusive)
};

// Where the pclntab lives and what the caller knows about the module.
struct PclntabLocation {
  ByteView bytes;           // from the pcHeader to the end of its section or segment
  uint64_t vaddr = 0;       // link-time address of the pcHeader
  // moduledata.text when known. Go 1.26+ no longer store textStart in the
  // header, and it is the only correct base for externally linked binaries.
  std::optional<uint64_t> text_start;
  // moduledata.gofunc (1.18+): funcdata offsets, such as the inline tree's,
  // are relative to it. Without it inlined frames cannot be expanded.
  std::optional<uint64_t> gofunc;
};

// Reads bytes of the binary at a link-time virtual address (for inline trees,
// which live outside the pclntab in go:func.*).
using VaddrReader = std::function<std::optional<ByteView>(uint64_t vaddr)>;

// The two header fields needed before the table can be parsed in full.
struct PclntabHeader {
  PclntabFormat format;
  uint64_t funcnametab_offset;
};

class Pclntab {
 public:
  // Reads the format and funcnametab offset of a table starting at `bytes`.
  static std::optional<PclntabHeader> peek_header(ByteView bytes);

  // Checks the header and the function table; `name` is used in errors.
  static Result<std::unique_ptr<Pclntab>> parse(const PclntabLocation& location,
                                                VaddrReader read_vaddr, std::string_view name);

  // True when `bytes` starts with a pcHeader signature gotrace can read.
  static bool has_signature(ByteView bytes);
  // The signature of a pre-1.16 table (refused, but worth naming in errors).
  static bool has_legacy_signature(ByteView bytes);

  ~Pclntab();
  Pclntab(const Pclntab&) = delete;
  Pclntab& operator=(const Pclntab&) = delete;

  PclntabFormat format() const { return format_; }
  uint64_t function_count() const { return nfunc_; }
  uint64_t text_start() const { return text_start_; }
  uint64_t min_pc() const;
  uint64_t max_pc() const;
  bool can_expand_inlining() const { return format_ == PclntabFormat::kGo116 || gofunc_.has_value(); }
  // Header fields, for validating candidate moduledata.
  uint64_t vaddr() const { return vaddr_; }
  uint64_t funcnametab_offset() const { return funcnametab_off_; }
  uint64_t header_text_start() const { return header_text_start_; }

  FunctionInfo function(uint32_t index) const;
  std::optional<FunctionInfo> function_for_pc(uint64_t pc) const;
  std::optional<FunctionInfo> find_function(std::string_view name) const;
  // The function's abi.FuncID, or nullopt for an unreadable record.
  std::optional<uint8_t> func_id(const FunctionInfo& function) const;
  void for_each_function(const std::function<void(const FunctionInfo&)>& visit) const;

  // Appends the logical frames at `pc`, innermost first (the way
  // runtime.CallersFrames reports them). With `return_address`, `pc` is a
  // return address and the call instruction before it is looked up. Returns
  // nullptr on success, or a short reason when nothing could be resolved.
  const char* symbolize(uint64_t pc, bool return_address, std::vector<Frame>* frames) const;

 private:
  // The fields of runtime._func that symbolization needs.
  struct FuncRecord {
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
  struct DecodedFunc;
  class FunctionDecoder;  // builds a DecodedFunc from a FuncRecord

  Pclntab();
  Status parse_header(std::string_view name);
  uint64_t entry_at(uint64_t index) const;
  std::optional<FuncRecord> func_record(uint32_t index) const;
  const DecodedFunc* decoded(uint32_t index) const;
  uint32_t function_index(uint64_t pc) const;  // for min_pc() <= pc < max_pc()
  std::string_view func_name(int64_t name_off) const;
  std::string_view file_name(const FuncRecord& record, int64_t file_number) const;

  PclntabFormat format_ = PclntabFormat::kGo120;
  ByteView table_;
  VaddrReader read_vaddr_;
  uint64_t vaddr_ = 0;
  uint64_t nfunc_ = 0;
  uint64_t header_text_start_ = 0;
  uint64_t text_start_ = 0;
  std::optional<uint64_t> gofunc_;
  uint64_t funcnametab_off_ = 0;
  ByteView funcnametab_, cutab_, filetab_, pctab_, functab_area_;
  uint64_t functab_entry_size_ = 8;

  // Bounded cache of decoded per-function tables, indexed by function index
  // (sized to the function count on first use), and the indexes it holds.
  mutable std::vector<std::unique_ptr<DecodedFunc>> cache_;
  mutable std::vector<uint32_t> cached_indexes_;
  mutable uint64_t cache_bytes_ = 0;
  // PC → function index: pc_buckets_[b] is the function holding the first
  // byte of the b-th KiB of text from min_pc() (built by parse(); empty for
  // an implausibly large text, which then costs a full binary search).
  std::vector<uint32_t> pc_buckets_;
};

// Decodes a pc-value table (runtime.pcvalue) starting at `offset` in `pctab`,
// calling `visit(start_pc, end_pc, value)` for each range. Stops after
// `max_steps` ranges or at the first malformed byte; returns false if the
// table was malformed. Exposed for tests.
bool decode_pcvalue_table(ByteView pctab, uint64_t offset, uint64_t entry, uint64_t max_steps,
                          const std::function<void(uint64_t, uint64_t, int64_t)>& visit);

}  // namespace gotrace
