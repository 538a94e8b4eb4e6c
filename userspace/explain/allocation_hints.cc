#include "userspace/explain/allocation_hints.h"

#include <algorithm>

#include <fmt/format.h>

namespace gotrace {
namespace {

bool compiler_said(const HintContext& context, std::string_view words) {
  return std::any_of(context.compiler_says.begin(), context.compiler_says.end(),
                     [&](const std::string& message) { return message.find(words) != std::string::npos; });
}

// A captured value of this many bytes or more is worth a word: the
// closure's context is copied with it each time.
constexpr int64_t kLargeClosureBytes = 64;

}  // namespace

std::string allocation_hint(const HintContext& context) {
  std::string_view kind = context.kind;
  int64_t average = context.objects > 0 ? context.bytes / context.objects : 0;
  if (kind == "growslice")
    return fmt::format(
        "append grows this slice, copying it to a larger array each time it fills ({} times here): if its final "
        "length is known or can be bounded, make it with that capacity first, make([]T, 0, n)",
        context.objects);
  if (kind.starts_with("concatstring"))
    return "each concatenation makes a new string; built up in a loop, it copies the string so far each time: a "
           "strings.Builder (with Grow when the length is known) may allocate once";
  if (kind.starts_with("convT"))
    return "a value converted to an interface is copied to the heap (a pointer, and some small values, are not): "
           "where the interface is not needed, keep the concrete type (a typed parameter, a generic function), or "
           "convert once, outside the loop";
  if (kind == "closure")
    return average >= kLargeClosureBytes
               ? fmt::format("this closure escapes and takes its captured variables to the heap, {} bytes each "
                             "time: a large value captured by value is copied in; capture a pointer to it, or pass "
                             "the closure what it needs as arguments",
                             average)
               : "this closure escapes and takes its captured variables to the heap: a closure that is only called "
                 "where it is made, or a method value of a long-lived object, may not need to allocate";
  if (kind == "slicebytetostring" || kind == "stringtoslicebyte" || kind == "stringtoslicerune" ||
      kind == "slicerunetostring")
    return "a conversion between string and a slice copies the bytes: keep one form where you can; the compiler "
           "copies nothing for a conversion used only as a map key (m[string(b)]), in a comparison or in a range";
  if (kind.starts_with("mapassign"))
    return "the map grows as it fills, moving its entries to a larger table each time: make(map[K]V, n) with a "
           "size hint when the number of entries is known";
  if (kind.starts_with("makemap") && context.objects > 1)
    return fmt::format("a map is made here {} times: one map kept and emptied with clear(m) (Go 1.21) may serve "
                       "instead",
                       context.objects);
  if (kind.starts_with("makeslice") && compiler_said(context, "non-constant size"))
    return "make with a length known only at run time always goes to the heap: a constant capacity lets a slice "
           "that does not escape stay on the stack";
  if (kind == "newobject" && compiler_said(context, "moved to heap"))
    return "the variable lives on the heap because its address outlives the call (the compiler's reasons above): "
           "passing or returning the value, not its address, may keep it on the stack";
  if (kind == "newobject" && compiler_said(context, "escapes to heap"))
    return "the value escapes (the compiler's reasons above): stored in a longer-lived place or an interface, or "
           "too large for the stack; a value that stays inside the function is not allocated";
  return "";
}

}  // namespace gotrace
