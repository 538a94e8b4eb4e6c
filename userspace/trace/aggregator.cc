#include "userspace/trace/aggregator.h"

#include <cmath>
#include <cstring>

namespace gotrace {
namespace {

// FNV-1a over the event's type and stack: cheap, and collisions are resolved
// by comparing contents.
uint64_t hash_event(const gotrace_alloc_event& event) {
  uint64_t hash = 1469598103934665603ull;
  auto mix = [&](uint64_t word) {
    hash ^= word;
    hash *= 1099511628211ull;
  };
  mix(event.type);
  for (uint32_t i = 0; i < event.stack_depth; ++i) mix(event.pcs[i]);
  return hash;
}

bool is_runtime_function(std::string_view name) { return name.starts_with("runtime."); }

}  // namespace

AllocationTotals WeightedTotals::rounded() const {
  return {static_cast<uint64_t>(std::llround(count)), static_cast<uint64_t>(std::llround(bytes))};
}

void StackAggregator::add(const gotrace_alloc_event& event) {
  if (event.size == 0) {
    // mallocgc(0) returns a shared zero-size address without allocating.
    ++zero_size_;
    return;
  }
  auto cached = noscan_cache_.find(event.type);
  bool noscan = cached != noscan_cache_.end() ? cached->second
                                              : noscan_cache_.emplace(event.type, noscan_(event.type)).first->second;
  double bytes = allocated_bytes(event.size, noscan, model_);
  double weight = 1;
  if (sample_rate_ != 0) weight = 1 / (1 - std::exp(-double(event.size) / double(sample_rate_)));
  Stack& stack = stacks_[find_or_insert(hash_event(event), event)];
  stack.totals.count += weight;
  stack.totals.bytes += weight * bytes;
  totals_.count += weight;
  totals_.bytes += weight * bytes;
  ++events_;
}

uint32_t StackAggregator::find_or_insert(uint64_t hash, const gotrace_alloc_event& event) {
  auto [begin, end] = index_.equal_range(hash);
  for (auto it = begin; it != end; ++it) {
    const Stack& stack = stacks_[it->second];
    if (stack.type == event.type && stack.pcs.size() == event.stack_depth &&
        std::memcmp(stack.pcs.data(), event.pcs, event.stack_depth * sizeof(uint64_t)) == 0)
      return it->second;
  }
  uint32_t id = stacks_.size();
  stacks_.push_back({event.type, std::vector<uint64_t>(event.pcs, event.pcs + event.stack_depth),
                     (event.flags & GOTRACE_EVENT_TRUNCATED) != 0, {}});
  index_.emplace(hash, id);
  return id;
}

StackSymbolizer::StackSymbolizer(const GoBinary& binary, AddressTranslator translator)
    : binary_(binary),
      translator_(std::move(translator)),
      elide_type_parameters_(binary.prints_elided_type_parameters()) {}

uint32_t StackSymbolizer::location_for(uint64_t pc) {
  auto [it, inserted] = location_index_.emplace(pc, locations_.size());
  if (inserted) {
    Location location;
    location.address = pc;
    if (auto vaddr = translator_.to_file_vaddr(pc)) {
      location.file_address = *vaddr;
      binary_.symbolize(*vaddr, /*return_address=*/true, &location.frames);
      if (elide_type_parameters_) {
        for (Frame& frame : location.frames) {
          std::string printed;
          std::string_view name = function_name_for_print(frame.function, &printed);
          if (name.data() == printed.data()) frame.function = printed_names_.emplace_back(std::move(printed));
        }
      }
    }
    locations_.push_back(std::move(location));
  }
  return it->second;
}

uint32_t StackSymbolizer::trimmed_location(uint32_t index, size_t skip) {
  auto [it, inserted] = trimmed_index_.emplace(std::pair{index, skip}, locations_.size());
  if (inserted) {
    Location copy = locations_[index];
    copy.frames.erase(copy.frames.begin(), copy.frames.begin() + skip);
    locations_.push_back(std::move(copy));
  }
  return it->second;
}

std::string_view StackSymbolizer::type_name(uint64_t type) {
  if (type == 0) return kRawMemory;
  auto [it, inserted] = type_names_.emplace(type, "");
  if (inserted) {
    auto vaddr = translator_.to_file_vaddr(type);
    auto name = vaddr ? binary_.type_name(*vaddr) : std::nullopt;
    it->second = name ? std::string(*name) : fmt::format("[type 0x{:x}]", type);
  }
  return it->second;
}

StackSymbolizer::Trimmed StackSymbolizer::trim(const StackAggregator::Stack& stack) {
  Trimmed trimmed;
  std::vector<uint32_t>& locations = trimmed.locations;
  locations.reserve(stack.pcs.size());
  for (uint64_t pc : stack.pcs) locations.push_back(location_for(pc));
  // Go's heap profile hides the runtime's leading frames: its leaf is the
  // first logical frame, inlined ones included, outside package runtime
  // (runtime/pprof), unless the whole stack is the runtime's own.
  size_t first = 0, skip = 0;
  for (; first < locations.size(); ++first) {
    const auto& frames = locations_[locations[first]].frames;
    skip = 0;
    while (skip < frames.size() && is_runtime_function(frames[skip].function)) ++skip;
    if (frames.empty() || skip < frames.size()) break;
  }
  if (first == locations.size()) {
    first = 0;  // the runtime's own allocation: keep it whole
    skip = 0;
  }
  locations.erase(locations.begin(), locations.begin() + first);
  if (skip > 0) locations.front() = trimmed_location(locations.front(), skip);
  trimmed.type_name = type_name(stack.type);
  return trimmed;
}

void StackSymbolizer::move_into(Profile* profile) && {
  profile->locations = std::move(locations_);
  // Moving a deque hands over its blocks: the frames' names stay where they are.
  profile->printed_names = std::move(printed_names_);
}

std::string sample_key(const StackSymbolizer::Trimmed& trimmed, bool truncated) {
  std::string key(reinterpret_cast<const char*>(trimmed.locations.data()), trimmed.locations.size() * sizeof(uint32_t));
  key += truncated ? '\1' : '\0';
  key += trimmed.type_name;
  return key;
}

Profile build_profile(const StackAggregator& aggregator, const GoBinary& binary,
                      const AddressTranslator& translator) {
  Profile profile;
  profile.totals = aggregator.totals();
  StackSymbolizer symbolizer(binary, translator);
  std::vector<WeightedTotals> sample_sums;
  std::unordered_map<std::string, uint32_t> sample_index;  // merged by trimmed stack and type
  for (const StackAggregator::Stack& stack : aggregator.stacks()) {
    StackSymbolizer::Trimmed trimmed = symbolizer.trim(stack);
    auto [it, inserted] = sample_index.emplace(sample_key(trimmed, stack.truncated), profile.samples.size());
    if (inserted) {
      profile.samples.push_back({std::move(trimmed.locations), std::string(trimmed.type_name), stack.truncated, {}});
      sample_sums.emplace_back();
    }
    sample_sums[it->second].count += stack.totals.count;
    sample_sums[it->second].bytes += stack.totals.bytes;
  }
  for (size_t i = 0; i < profile.samples.size(); ++i) profile.samples[i].totals = sample_sums[i].rounded();
  std::move(symbolizer).move_into(&profile);
  return profile;
}

}  // namespace gotrace
