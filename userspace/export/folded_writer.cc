#include "userspace/export/folded_writer.h"

#include <map>

namespace gotrace {
namespace {

// ';' separates frames and ' ' ends the stack, so neither may appear inside a
// name (generic instantiations like `main.F[go.shape.struct { A int; B int }]` have both).
void append_frame(std::string* stack, std::string_view name) {
  if (!stack->empty()) stack->push_back(';');
  for (char c : name) stack->push_back(c == ';' ? ',' : c == ' ' ? '_' : c);
}

}  // namespace

std::string encode_folded(const Profile& profile, const FoldedOptions& options) {
  // Stacks that fold to the same text (e.g. unresolved frames) are summed,
  // and lines come out sorted so that the output is stable.
  std::map<std::string, uint64_t> lines;
  for (const Sample& sample : profile.samples) {
    std::string stack;
    // A stack cut at the root end hangs under one root of its own, rather
    // than passing for a root of the program.
    if (sample.truncated) append_frame(&stack, "[truncated]");
    for (auto location = sample.locations.rbegin(); location != sample.locations.rend(); ++location) {
      std::span<const Frame> frames = shown_frames(profile.locations[*location]);
      for (auto frame = frames.rbegin(); frame != frames.rend(); ++frame) append_frame(&stack, frame->function);
    }
    if (options.type_frame) append_frame(&stack, "[" + sample.type_name + "]");
    lines[stack] += options.bytes ? sample.totals.bytes : sample.totals.count;
  }
  std::string out;
  for (const auto& [stack, value] : lines) out += fmt::format("{} {}\n", stack, value);
  return out;
}

}  // namespace gotrace
