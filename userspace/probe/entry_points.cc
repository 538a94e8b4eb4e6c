#include "userspace/probe/entry_points.h"

#include <Zydis/Zydis.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <tuple>
#include <unordered_map>

namespace gotrace {
namespace {

constexpr std::string_view kMallocgc = "runtime.mallocgc";

// Where every allocation path of the runtime ends, the same in Go 1.19 to
// 1.27 (checked with go tool objdump on each release): only runtime.mallocgc
// (up to 1.23), the functions it dispatches to (1.24 on), the size-specialized
// functions and their slow paths (1.26 with the experiment, 1.27) call them.
constexpr std::array<std::string_view, 4> kCoreFunctions = {
    "runtime.(*mcache).nextFree",    // a free slot for a small or tiny object
    "runtime.(*mcache).refill",      // a fresh span for the mcache (nextFree calls it)
    "runtime.(*mcache).allocLarge",  // a span of its own for a large object
    "runtime.profilealloc",          // the heap profiler's hook for a sampled allocation
};

// How many calls deep a callee may be from the core: Go 1.27's
// mallocgcTinySC2 reaches nextFree directly and through mallocgcTinySlowPath.
constexpr int kMaxCallDepth = 3;

// Code of the runtime's packages. A generic runtime function's instantiation
// (runtime.AddCleanup[go.shape...]) is compiled with the package that
// instantiates it, which calls size-specialized entry points directly: it
// counts as code outside the runtime.
bool in_runtime(std::string_view name) {
  return (name.starts_with("runtime.") || name.starts_with("internal/runtime/")) &&
         name.find('[') == std::string_view::npos;
}

// What a search from a function found within its call depth: the core; only
// functions that already count the allocation (runtime.mallocgc, or an entry
// point found before); or neither.
enum class Reach : uint8_t { kNothing, kCovered, kCore };

std::string sites_text(uint64_t n) { return fmt::format("{} site{}", n, n == 1 ? "" : "s"); }

class EntryPointFinder {
 public:
  explicit EntryPointFinder(const GoBinary& binary) : binary_(binary) {
    ZydisDecoderInit(&decoder_, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    // Lengths and opcodes are all it needs.
    ZydisDecoderEnableMode(&decoder_, ZYDIS_DECODER_MODE_MINIMAL, ZYAN_TRUE);
  }

  Result<AllocationEntryPoints> find();

 private:
  struct Candidate {
    uint32_t target;
    uint32_t caller;
    uint64_t end;  // offset in the caller just past the call
  };
  struct Memo {
    Reach reach;
    uint32_t via;  // the callee the answer came through
  };
  struct Bypass {
    uint32_t function;
    int distance;  // calls from it to the core
  };
  // The runtime functions code outside the runtime calls, by what they reach.
  struct Callees {
    std::vector<Bypass> bypasses;  // the core, with only runtime.mallocgc in the way
    std::vector<uint32_t> puzzles;  // neither it nor mallocgc, and named runtime.malloc*
    std::unordered_map<uint32_t, bool> counted;  // every callee: whether its call sites are counted
  };

  void read_function_table();
  std::optional<uint32_t> runtime_function_at(uint64_t vaddr) const;
  std::vector<Candidate> scan_for_calls() const;
  template <typename Visit>
  void for_each_call(const FunctionInfo& function, uint64_t length, Visit&& visit) const;
  const std::vector<uint32_t>& callees(uint32_t function);
  Reach reach(uint32_t function, int calls_left);
  std::string path_to_core(uint32_t function) const;
  std::optional<uint32_t> first_allocator_hop(uint32_t function);
  Callees classify_callees(const std::vector<Candidate>& candidates);
  void count_call_sites(const std::vector<Candidate>& candidates, const std::unordered_map<uint32_t, bool>& counted);
  void add_bypasses(std::vector<Bypass> bypasses, AllocationEntryPoints* found);
  bool add_allocator_hops(uint32_t function, AllocationEntryPoints* found, std::vector<size_t>* hops);

  const GoBinary& binary_;
  ZydisDecoder decoder_;
  std::vector<FunctionInfo> functions_;
  std::vector<uint8_t> runtime_;  // by function index
  std::vector<uint8_t> core_;     // by function index
  std::vector<uint8_t> stop_;     // by function index: where reach() does not look further
  std::unordered_map<uint64_t, uint32_t> runtime_entries_;  // entry → index
  uint64_t runtime_low_ = UINT64_MAX, runtime_high_ = 0;   // entries of runtime functions
  std::optional<uint32_t> mallocgc_;
  std::unordered_map<uint32_t, std::vector<uint32_t>> callees_;
  std::unordered_map<uint64_t, Memo> memo_;  // by index and calls left, for the current stop_
  std::unordered_map<uint32_t, uint64_t> sites_;  // direct calls from outside the runtime, by counted callee
};

void EntryPointFinder::read_function_table() {
  const Pclntab& table = binary_.pclntab();
  functions_.reserve(table.function_count());
  table.for_each_function([&](const FunctionInfo& f) { functions_.push_back(f); });
  runtime_.assign(functions_.size(), 0);
  core_.assign(functions_.size(), 0);
  stop_.assign(functions_.size(), 0);
  for (uint32_t i = 0; i < functions_.size(); ++i) {
    const FunctionInfo& f = functions_[i];
    if (!in_runtime(f.name) || f.end <= f.entry) continue;
    runtime_[i] = 1;
    runtime_entries_.try_emplace(f.entry, i);
    runtime_low_ = std::min(runtime_low_, f.entry);
    runtime_high_ = std::max(runtime_high_, f.entry);
    if (f.name == kMallocgc && !mallocgc_) mallocgc_ = i;
    if (std::find(kCoreFunctions.begin(), kCoreFunctions.end(), f.name) != kCoreFunctions.end()) core_[i] = 1;
  }
}

std::optional<uint32_t> EntryPointFinder::runtime_function_at(uint64_t vaddr) const {
  if (vaddr < runtime_low_ || vaddr > runtime_high_) return std::nullopt;
  auto it = runtime_entries_.find(vaddr);
  if (it == runtime_entries_.end()) return std::nullopt;
  return it->second;
}

// Every e8 byte in the code outside the runtime whose next four bytes,
// read as a call's displacement, land on a runtime function's entry. A
// superset of the real calls (a byte inside another instruction may match
// too), found without decoding; only the functions that call something of
// interest are decoded afterwards.
std::vector<EntryPointFinder::Candidate> EntryPointFinder::scan_for_calls() const {
  std::vector<Candidate> found;
  for (const FunctionInfo& f : functions_) {
    if (runtime_[f.index] || f.end <= f.entry) continue;
    auto code = binary_.elf().bytes_at_vaddr(f.entry, f.end - f.entry);
    if (!code || code->size() < 5) continue;
    const uint8_t* begin = code->data();
    const uint8_t* last = begin + code->size() - 5;  // the last place a whole call fits
    for (const uint8_t* p = begin; p <= last; ++p) {
      p = static_cast<const uint8_t*>(std::memchr(p, 0xe8, last - p + 1));
      if (p == nullptr) break;
      int32_t displacement;
      std::memcpy(&displacement, p + 1, sizeof(displacement));
      uint64_t target = f.entry + uint64_t(p - begin) + 5 + uint64_t(int64_t(displacement));
      if (auto callee = runtime_function_at(target)) found.push_back({*callee, f.index, uint64_t(p - begin) + 5});
    }
  }
  return found;
}

// Decodes the first `length` bytes of `function` and calls visit(callee
// index) for each `call rel32` into a runtime function. Undecodable bytes are
// stepped over.
template <typename Visit>
void EntryPointFinder::for_each_call(const FunctionInfo& function, uint64_t length, Visit&& visit) const {
  if (function.end <= function.entry) return;
  auto code = binary_.elf().bytes_at_vaddr(function.entry, std::min(length, function.end - function.entry));
  if (!code) return;
  uint64_t offset = 0;
  while (offset < code->size()) {
    ZydisDecodedInstruction insn;
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&decoder_, nullptr, code->data() + offset,
                                                    code->size() - offset, &insn))) {
      ++offset;
      continue;
    }
    offset += insn.length;
    if (insn.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && insn.opcode == 0xe8 && insn.raw.imm[0].size == 32) {
      uint64_t target = function.entry + offset + uint64_t(insn.raw.imm[0].value.s);
      if (auto callee = runtime_function_at(target)) visit(*callee);
    }
  }
}

const std::vector<uint32_t>& EntryPointFinder::callees(uint32_t function) {
  auto [it, inserted] = callees_.try_emplace(function);
  if (inserted) {
    std::vector<uint32_t>& out = it->second;
    for_each_call(functions_[function], UINT64_MAX, [&](uint32_t callee) {
      if (std::find(out.begin(), out.end(), callee) == out.end()) out.push_back(callee);
    });
  }
  return it->second;
}

// What `function` reaches within `calls_left` direct calls through the
// runtime, never looking inside a function of stop_ (runtime.mallocgc and
// the entry points found so far).
Reach EntryPointFinder::reach(uint32_t function, int calls_left) {
  if (core_[function]) return Reach::kCore;
  if (stop_[function]) return Reach::kCovered;
  if (calls_left == 0) return Reach::kNothing;
  uint64_t key = uint64_t(function) * (kMaxCallDepth + 1) + calls_left;
  if (auto it = memo_.find(key); it != memo_.end()) return it->second.reach;
  Memo memo{Reach::kNothing, function};
  // Every callee is looked at before any is followed, so that the path
  // reported is a short one.
  const std::vector<uint32_t>& calls = callees(function);
  for (uint32_t callee : calls) {
    Reach r = core_[callee] ? Reach::kCore : stop_[callee] ? Reach::kCovered : Reach::kNothing;
    if (r > memo.reach) memo = {r, callee};
  }
  for (size_t i = 0; i < calls.size() && memo.reach != Reach::kCore; ++i) {
    uint32_t callee = calls[i];
    if (!runtime_[callee] || core_[callee] || stop_[callee]) continue;
    Reach r = reach(callee, calls_left - 1);
    if (r > memo.reach) memo = {r, callee};
  }
  memo_[key] = memo;
  return memo.reach;
}

// The first function on the path by which reach(function, kMaxCallDepth)
// found the core that runtime.mallocgc itself calls, handing it its size and
// type, and that is named like the allocator; nullopt when there is none.
std::optional<uint32_t> EntryPointFinder::first_allocator_hop(uint32_t function) {
  if (reach(function, kMaxCallDepth) != Reach::kCore) return std::nullopt;
  const std::vector<uint32_t>& from_mallocgc = callees(*mallocgc_);
  for (int calls_left = kMaxCallDepth; calls_left > 0 && !core_[function]; --calls_left) {
    auto it = memo_.find(uint64_t(function) * (kMaxCallDepth + 1) + calls_left);
    if (it == memo_.end() || it->second.reach != Reach::kCore) break;
    function = it->second.via;
    if (!core_[function] && functions_[function].name.starts_with("runtime.malloc") &&
        std::find(from_mallocgc.begin(), from_mallocgc.end(), function) != from_mallocgc.end())
      return function;
  }
  return std::nullopt;
}

// "runtime.(*mcache).nextFree through runtime.mallocgcTinySlowPath", after
// reach(function, kMaxCallDepth) found the core.
std::string EntryPointFinder::path_to_core(uint32_t function) const {
  std::vector<std::string_view> hops;
  for (int calls_left = kMaxCallDepth; calls_left > 0 && !core_[function]; --calls_left) {
    auto it = memo_.find(uint64_t(function) * (kMaxCallDepth + 1) + calls_left);
    if (it == memo_.end() || it->second.reach != Reach::kCore) break;
    function = it->second.via;
    hops.push_back(functions_[function].name);
  }
  if (hops.empty()) return std::string(functions_[function].name);
  std::string text(hops.back());
  for (size_t i = 0; i + 1 < hops.size(); ++i) text += (i == 0 ? " through " : ", ") + std::string(hops[i]);
  return text;
}

// First, what each runtime function called from outside reaches with only
// runtime.mallocgc in the way, and how many calls away the core is.
EntryPointFinder::Callees EntryPointFinder::classify_callees(const std::vector<Candidate>& candidates) {
  Callees callees;
  callees.counted[*mallocgc_] = true;
  stop_[*mallocgc_] = 1;
  for (const Candidate& c : candidates) {
    auto [it, inserted] = callees.counted.try_emplace(c.target, false);
    if (!inserted) continue;
    Reach r = Reach::kNothing;
    int distance = 0;
    while (distance < kMaxCallDepth && r != Reach::kCore) r = reach(c.target, ++distance);
    if (r == Reach::kCore) {
      callees.bypasses.push_back({c.target, distance});
      it->second = true;
    } else if (r == Reach::kNothing && functions_[c.target].name.starts_with("runtime.malloc")) {
      callees.puzzles.push_back(c.target);
      it->second = true;
    }
  }
  return callees;
}

// Exact call sites: each function that seems to call one of interest is
// decoded once, from its entry to the last such call (each real call is a
// candidate), and only whole call instructions count.
void EntryPointFinder::count_call_sites(const std::vector<Candidate>& candidates,
                                        const std::unordered_map<uint32_t, bool>& counted) {
  std::unordered_map<uint32_t, uint64_t> decode_lengths;  // by caller
  for (const Candidate& c : candidates) {
    if (!counted.at(c.target)) continue;
    uint64_t& length = decode_lengths[c.caller];
    length = std::max(length, c.end);
  }
  for (const auto& [caller, length] : decode_lengths) {
    for_each_call(functions_[caller], length, [&](uint32_t callee) {
      if (auto it = counted.find(callee); it != counted.end() && it->second) ++sites_[callee];
    });
  }
}

// Then, nearest to the core first, the callees that still reach it when
// the entry points found so far are in the way too: one that reaches it
// only through another (a wrapper, as newobject is of mallocgc) is counted
// there. One not named like the allocator has runtime.mallocgc inlined
// into it (PGO inlines it into newobject, makeslice, growslice, ...).
void EntryPointFinder::add_bypasses(std::vector<Bypass> bypasses, AllocationEntryPoints* found) {
  std::sort(bypasses.begin(), bypasses.end(), [&](const Bypass& a, const Bypass& b) {
    return std::tie(a.distance, functions_[a.function].entry) < std::tie(b.distance, functions_[b.function].entry);
  });
  std::vector<size_t> pgo_hops;  // entry points probed for the functions below
  std::vector<std::string_view> pgo_hosts;  // functions runtime.mallocgc is inlined into
  for (const Bypass& bypass : bypasses) {
    uint32_t function = bypass.function;
    uint64_t n = sites_[function];
    if (n == 0) continue;  // the scan matched bytes that are not a call
    memo_.clear();
    const FunctionInfo& info = functions_[function];
    if (reach(function, kMaxCallDepth) != Reach::kCore) {
      // Covered by the entry points found so far; for a function mallocgc is
      // inlined into, by the allocator functions probed for one before it.
      if (!info.name.starts_with("runtime.malloc") && !pgo_hops.empty()) pgo_hosts.push_back(info.name);
      continue;
    }
    stop_[function] = 1;
    std::string how = fmt::format("called directly from {} outside the runtime; allocates without "
                                  "runtime.mallocgc (reaches {})",
                                  sites_text(n), path_to_core(function));
    if (info.name.starts_with("runtime.malloc")) {
      found->entry_points.push_back({info, std::move(how), n});
    } else if (add_allocator_hops(function, found, &pgo_hops)) {
      found->unverified.push_back({info, how + ", but is no allocator function: runtime.mallocgc is inlined into "
                                                "it (a PGO build?), and its arguments are not mallocgc's",
                                   n});
    } else {
      pgo_hosts.push_back(info.name);
    }
    stop_[function] = 1;  // its callers are counted, or reported, with it
  }
  std::string hosts;
  for (size_t i = 0; i < pgo_hosts.size() && i < 4; ++i) hosts += (i == 0 ? "" : ", ") + std::string(pgo_hosts[i]);
  if (pgo_hosts.size() > 4) hosts += fmt::format(" and {} more", pgo_hosts.size() - 4);
  for (size_t i : pgo_hops) {
    found->entry_points[i].how_found = fmt::format(
        "runtime.mallocgc hands it its size and type, and is inlined (a PGO build) into {}, which code outside the "
        "runtime calls: probed for the allocations made there (its calls from runtime.mallocgc itself are counted "
        "there once)",
        hosts);
  }
}

// `function` has runtime.mallocgc inlined into it, and does not take
// mallocgc's arguments, which the probe reads. The allocator functions the
// inlined code calls do (mallocgc hands them its size and type: mallocgcTiny,
// mallocgcSmallNoscan, ... from Go 1.24): they are probed instead, one path
// at a time; their calls from the real runtime.mallocgc are counted there
// already. Returns whether `function` still reaches the core past them.
bool EntryPointFinder::add_allocator_hops(uint32_t function, AllocationEntryPoints* found,
                                          std::vector<size_t>* hops) {
  stop_[function] = 0;
  while (auto hop = first_allocator_hop(function)) {
    stop_[*hop] = 1;
    hops->push_back(found->entry_points.size());
    found->entry_points.push_back({functions_[*hop], "", 0});
    memo_.clear();
    if (reach(function, kMaxCallDepth) != Reach::kCore) break;
  }
  memo_.clear();
  return reach(function, kMaxCallDepth) == Reach::kCore;
}

Result<AllocationEntryPoints> EntryPointFinder::find() {
  read_function_table();
  if (!mallocgc_) return make_error("'{}': runtime.mallocgc not found", binary_.name());
  std::vector<Candidate> candidates = scan_for_calls();
  Callees callees = classify_callees(candidates);
  count_call_sites(candidates, callees.counted);

  AllocationEntryPoints found;
  uint64_t mallocgc_sites = sites_[*mallocgc_];
  std::string how = fmt::format("the allocator's general entry, always probed (newobject, makeslice, growslice "
                                "and others call it); called directly from {} outside the runtime",
                                sites_text(mallocgc_sites));
  found.entry_points.push_back({functions_[*mallocgc_], std::move(how), mallocgc_sites});
  add_bypasses(std::move(callees.bypasses), &found);
  for (uint32_t function : callees.puzzles) {
    uint64_t n = sites_[function];
    if (n == 0) continue;
    found.unverified.push_back({functions_[function],
                                fmt::format("called directly from {} outside the runtime; reaches neither "
                                            "runtime.mallocgc nor the allocator's core within {} calls",
                                            sites_text(n), kMaxCallDepth),
                                n});
  }
  auto by_address = [](const EntryPoint& a, const EntryPoint& b) { return a.function.entry < b.function.entry; };
  std::sort(found.entry_points.begin() + 1, found.entry_points.end(), by_address);
  std::sort(found.unverified.begin(), found.unverified.end(), by_address);
  return found;
}

}  // namespace

Result<AllocationEntryPoints> find_allocation_entry_points(const GoBinary& binary) {
  return EntryPointFinder(binary).find();
}

}  // namespace gotrace
