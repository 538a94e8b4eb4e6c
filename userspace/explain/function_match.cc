#include "userspace/explain/function_match.h"

#include <fmt/ranges.h>

namespace gotrace {
namespace {

// The frames at one pc, as far as the comparison goes.
struct PcFrames {
  std::vector<std::string> names;  // function, and for module files "file:line"
  bool operator==(const PcFrames&) const = default;
};

std::optional<PcFrames> frames_at(const GoBinary& binary, uint64_t pc, const ModuleFileName& files,
                                  std::vector<Frame>* scratch) {
  scratch->clear();
  if (binary.symbolize(pc, false, scratch) != nullptr) return std::nullopt;
  PcFrames out;
  for (const Frame& frame : *scratch) {
    out.names.emplace_back(frame.function);
    if (auto file = files(frame.file)) out.names.push_back(fmt::format("{}:{}", *file, frame.line));
  }
  return out;
}

}  // namespace

std::vector<FunctionInfo> functions_named(const GoBinary& binary, std::string_view name) {
  if (auto exact = binary.find_function(name)) return {*exact};
  std::vector<FunctionInfo> out;
  if (name.find("[...]") == std::string_view::npos) return out;
  std::string storage;
  binary.pclntab().for_each_function([&](const FunctionInfo& function) {
    if (function_name_for_print(function.name, &storage) == name) out.push_back(function);
  });
  return out;
}

std::string compare_function(const GoBinary& a, const FunctionInfo& function, const ModuleFileName& a_files,
                             const GoBinary& b, const ModuleFileName& b_files) {
  auto other = b.find_function(function.name);
  if (!other) return "no such function in the rebuilt binary (renamed, removed or no longer generated)";
  uint64_t size = function.end - function.entry, other_size = other->end - other->entry;
  if (size != other_size) return fmt::format("its code differs in size ({} bytes, {} rebuilt)", size, other_size);
  std::vector<Frame> scratch;
  for (uint64_t offset = 0; offset < size; ++offset) {
    auto mine = frames_at(a, function.entry + offset, a_files, &scratch);
    auto theirs = frames_at(b, other->entry + offset, b_files, &scratch);
    if (mine != theirs)
      return fmt::format("its lines differ at offset {:#x} ({}, {} rebuilt)", offset,
                         mine ? fmt::format("{}", fmt::join(mine->names, " ")) : "none",
                         theirs ? fmt::format("{}", fmt::join(theirs->names, " ")) : "none");
  }
  return "";
}

}  // namespace gotrace
