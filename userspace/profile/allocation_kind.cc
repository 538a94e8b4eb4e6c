#include "userspace/profile/allocation_kind.h"

#include <array>
#include <utility>

namespace gotrace {

namespace {

constexpr std::string_view kRuntimePrefix = "runtime.";
constexpr std::string_view kMallocgc = "mallocgc";

// What the runtime's allocating functions do, by kind, for the functions
// compiled code calls (cmd/compile's walk and ssagen lower Go's
// allocating constructs to them).
constexpr std::array<std::pair<std::string_view, std::string_view>, 38> kDescriptions{{
    {"closure", "a closure's captured variables"},
    {"concatstring2", "string concatenation"},
    {"concatstring3", "string concatenation"},
    {"concatstring4", "string concatenation"},
    {"concatstring5", "string concatenation"},
    {"concatstrings", "string concatenation"},
    {"convT", "a value converted to an interface"},
    {"convT16", "a value converted to an interface"},
    {"convT32", "a value converted to an interface"},
    {"convT64", "a value converted to an interface"},
    {"convTnoptr", "a value converted to an interface"},
    {"convTslice", "a value converted to an interface"},
    {"convTstring", "a value converted to an interface"},
    {"growslice", "append growing a slice"},
    {"intstring", "a rune converted to a string"},
    {"makechan", "make of a channel"},
    {"makemap", "make of a map"},
    {"makemap64", "make of a map"},
    {"makemap_small", "make of a map"},
    {"makeslice", "make of a slice"},
    {"makeslice64", "make of a slice"},
    {"makeslicecopy", "make of a slice and a copy into it"},
    {"mallocgc", "a direct call of the allocator"},
    {"mapassign", "a map assignment, growing the map"},
    {"mapassign_fast32", "a map assignment, growing the map"},
    {"mapassign_fast32ptr", "a map assignment, growing the map"},
    {"mapassign_fast64", "a map assignment, growing the map"},
    {"mapassign_fast64ptr", "a map assignment, growing the map"},
    {"mapassign_faststr", "a map assignment, growing the map"},
    {"newarray", "a new array"},
    {"newobject", "a new object: new(T), &T{} or a variable moved to the heap"},
    {"newproc", "a go statement's new goroutine"},
    {"rawbyteslice", "a byte slice"},
    {"slicebytetostring", "a byte slice converted to a string"},
    {"slicerunetostring", "a rune slice converted to a string"},
    {"stringtoslicebyte", "a string converted to a byte slice"},
    {"stringtoslicerune", "a string converted to a rune slice"},
    {"deferproc", "a deferred call's record"},
}};

}  // namespace

bool is_allocator_frame(std::string_view function) {
  return function.starts_with("runtime.mallocgc") || function == "runtime.profilealloc";
}

bool is_closure_context(std::string_view type_name) {
  return type_name.starts_with("struct { F uintptr") || type_name.starts_with("struct { .F uintptr");
}

std::string allocation_kind(std::string_view called, std::string_view type_name) {
  std::string_view name = called;
  if (name.starts_with(kRuntimePrefix)) {
    name.remove_prefix(kRuntimePrefix.size());
  } else if (size_t slash = name.rfind('/'); slash != std::string_view::npos) {
    name.remove_prefix(slash + 1);  // internal/runtime/maps.newarray: maps.newarray
  }
  // A size-specialized entry point takes newobject's place in the caller.
  if (name.starts_with(kMallocgc) && name != kMallocgc) name = "newobject";
  if (name == "newobject" && is_closure_context(type_name)) name = kClosureKind;
  return std::string(name);
}

std::string_view describe_allocation_kind(std::string_view kind) {
  for (const auto& [name, words] : kDescriptions)
    if (name == kind) return words;
  return "";
}

}  // namespace gotrace
