#include "userspace/profile/stack_symbolizer.h"

#include <fmt/format.h>

#include "userspace/profile/allocation_kind.h"

namespace gotrace {

StackSymbolizer::StackSymbolizer(const GoBinary& binary, AddressTranslator translator)
    : binary_(binary), translator_(std::move(translator)), rules_(binary) {}

uint32_t StackSymbolizer::location_for(uint64_t pc) {
  auto [it, inserted] = location_index_.emplace(pc, locations_.size());
  if (inserted) {
    Location location;
    location.address = pc;
    if (auto vaddr = translator_.to_file_vaddr(pc)) {
      location.file_address = *vaddr;
      binary_.symbolize(*vaddr, /*return_address=*/true, &location.frames);
    }
    locations_.push_back(std::move(location));
  }
  return it->second;
}

uint32_t StackSymbolizer::location_without(uint32_t index, uint64_t dropped_frames) {
  if (dropped_frames == 0) return index;
  auto [it, inserted] = derived_index_.emplace(std::pair{index, dropped_frames}, locations_.size());
  if (inserted) {
    Location copy = locations_[index];
    std::vector<Frame> kept;
    for (size_t i = 0; i < copy.frames.size(); ++i)
      if (i >= 64 || !(dropped_frames >> i & 1)) kept.push_back(copy.frames[i]);
    copy.frames = std::move(kept);
    locations_.push_back(std::move(copy));
  }
  return it->second;
}

std::string_view StackSymbolizer::type_name(uint64_t type) {
  if (type == 0) return kRawMemory;
  if (type == kUnknownTypeAddress) return kUnknownType;
  auto [it, inserted] = type_names_.emplace(type, "");
  if (inserted) {
    auto vaddr = translator_.to_file_vaddr(type);
    auto name = vaddr ? binary_.type_name(*vaddr) : std::nullopt;
    it->second = name ? std::string(*name) : fmt::format("[type 0x{:x}]", type);
  }
  return it->second;
}

std::string_view StackSymbolizer::callee_of(uint32_t location) {
  auto [it, inserted] = callees_.emplace(location, std::string_view());
  if (!inserted) return it->second;
  const Location& at = locations_[location];
  constexpr uint64_t kCallRel32Size = 5;  // E8 and a 32-bit displacement from the return address
  if (at.frames.empty() || at.file_address < kCallRel32Size) return "";
  auto call = binary_.elf().bytes_at_vaddr(at.file_address - kCallRel32Size, kCallRel32Size);
  auto opcode = call ? call->read<uint8_t>(0) : std::nullopt;
  auto displacement = call ? call->read<int32_t>(1) : std::nullopt;
  if (!opcode || *opcode != 0xe8 || !displacement) return "";
  std::vector<Frame> frames;
  binary_.symbolize(at.file_address + int64_t(*displacement), /*return_address=*/false, &frames);
  if (!frames.empty()) it->second = frames.back().function;  // the physical function: the entry point itself
  return it->second;
}

std::string_view StackSymbolizer::kind_of(const std::vector<uint32_t>& raw, std::string_view type_name) {
  // The function the user's code called is the outermost runtime frame in
  // front of the leaf; a stack of the runtime's own is of the innermost
  // function past the allocator's frames.
  std::string_view called, innermost;
  bool user_code = false;
  for (uint32_t index : raw) {
    const auto& frames = locations_[index].frames;
    if (frames.empty()) user_code = true;  // an unresolved address is not the runtime's
    for (const Frame& frame : frames) {
      if (!rules_.trims_at_leaf(frame.function)) {
        user_code = true;
        break;
      }
      called = frame.function;
      if (innermost.empty() && !is_allocator_frame(frame.function)) innermost = frame.function;
    }
    if (user_code) break;
  }
  // Code that calls an allocator entry point itself (exact mode probes it)
  // has no runtime frame in front of it: the call says which.
  if (user_code && called.empty() && !raw.empty()) called = callee_of(raw.front());
  if (!user_code && !innermost.empty()) called = innermost;
  if (called.empty()) return "";
  std::string kind = allocation_kind(called, type_name);
  auto it = kinds_.find(kind);
  if (it == kinds_.end()) it = kinds_.insert(std::move(kind)).first;
  return *it;
}

StackSymbolizer::Trimmed StackSymbolizer::trim(const RawStack& stack) {
  // The stack as Go's own heap profile has it (runtime_stack_rules.h).
  // First its extent: the root, walking from the leaf.
  std::vector<uint32_t> raw;
  raw.reserve(stack.pcs.size());
  for (uint64_t pc : stack.pcs) {
    uint32_t index = location_for(pc);
    const auto& frames = locations_[index].frames;
    auto root = frames.empty() ? RuntimeStackRules::Root::kNo : rules_.root(frames.back());
    if (root == RuntimeStackRules::Root::kBeyondRoot) break;
    raw.push_back(index);
    if (root == RuntimeStackRules::Root::kLastFrame) break;
  }
  // Then the frames the unwinder hides, and the runtime's frames at the leaf:
  // one bit per logical frame of each location, set for a frame left out.
  // Frames beyond the 64th of one location (never seen) are kept.
  std::vector<uint64_t> dropped(raw.size(), 0);
  std::string_view callee;  // the allocator, for the leaf frame: not a panic function
  int skip = rules_.skipped_leaf_frames();
  bool leaf_found = false;
  size_t leaf_location = 0;
  uint64_t leaf_dropped = 0;  // the runtime frames trimmed in front of the leaf, in leaf_location
  for (size_t i = 0; i < raw.size(); ++i) {
    const auto& frames = locations_[raw[i]].frames;
    if (frames.empty() && skip > 0) {
      dropped[i] = ~uint64_t(0);  // an unresolved address is a frame too
      --skip;
      continue;
    }
    if (frames.empty() && !leaf_found) {
      leaf_found = true;  // an unresolved address is not the runtime's
      leaf_location = i;
    }
    for (size_t j = 0; j < frames.size() && j < 64; ++j) {
      const Frame& frame = frames[j];
      if (rules_.hides(frame, callee)) {
        dropped[i] |= uint64_t(1) << j;
      } else if (skip > 0) {
        dropped[i] |= uint64_t(1) << j;
        --skip;
      } else if (!leaf_found) {
        if (rules_.trims_at_leaf(frame.function)) {
          leaf_dropped |= uint64_t(1) << j;
        } else {
          leaf_found = true;
          leaf_location = i;
        }
      }
      callee = frame.function;
    }
    if (!leaf_found) leaf_dropped = 0;  // the trimmed frames of a location wholly trimmed go with it
  }
  // A stack that is the runtime's own through and through is kept whole.
  size_t first = leaf_found ? leaf_location : 0;
  if (leaf_found) dropped[first] |= leaf_dropped;

  Trimmed trimmed;
  trimmed.locations.reserve(raw.size() - first);
  for (size_t i = first; i < raw.size(); ++i) {
    const auto& frames = locations_[raw[i]].frames;
    uint64_t all = frames.size() >= 64 ? ~uint64_t(0) : (uint64_t(1) << frames.size()) - 1;
    if ((dropped[i] & all) == all && dropped[i] != 0) continue;  // every frame of it is left out
    trimmed.locations.push_back(location_without(raw[i], dropped[i] & all));
  }
  trimmed.type_name = type_name(stack.type);
  trimmed.kind = kind_of(raw, trimmed.type_name);
  return trimmed;
}

}  // namespace gotrace
