// The kind of an allocation: which runtime function the user's code called
// to allocate (newobject for new(T) and &T{}, makeslice, growslice for
// append, convT64 for an int64 put in an interface, concatstring3, ...).
//
// Go's own heap profile trims the runtime's frames from the leaf of every
// stack, and with them the answer to "what kind of allocation was it":
// gotrace reads it from those frames before they go, and keeps it with the
// sample (a pprof label `alloc`, a column of the live view, explain's
// story). The kind is the runtime's function name without "runtime.", as
// `go tool objdump` shows the call, with two exceptions that keep a site's
// kind the same from one Go release to the next:
//  - Go 1.26 (sizespecializedmalloc) and 1.27 compile new(T), &T{}, an
//    escaping variable and a closure of a constant size of at most 80 (1.27)
//    or 512 (1.26) bytes to a direct call of a size-specialized allocator
//    (runtime.mallocgcSmallScanNoHeaderSC3, ...) where other releases call
//    runtime.newobject: that call is "newobject" as well;
//  - a newobject whose type is a closure's context (the function pointer
//    and the captured variables, `struct { F uintptr; X0 int }`) is
//    "closure".
#pragma once

#include <string>
#include <string_view>

namespace gotrace {

inline constexpr std::string_view kClosureKind = "closure";

// The kind of an allocation made by a call of the runtime function
// `called` (a name as the pclntab has it, "runtime.growslice") with type
// `type_name` (the closure exception above needs it).
std::string allocation_kind(std::string_view called, std::string_view type_name);

// Whether `function` is the allocator itself, below the function the
// user's code called: runtime.mallocgc, its size-class paths and
// size-specialized entries (runtime.mallocgc*), and the heap profiler's
// runtime.profilealloc, at whose entry heap mode reads the stack. Such a
// frame is the kind of an allocation only when the user's code called it.
bool is_allocator_frame(std::string_view function);

// Whether `type_name` is that of a closure's context, as the compiler names
// it: `struct { F uintptr; ... }` (`.F` before Go 1.22).
bool is_closure_context(std::string_view type_name);

// What a kind does, in words, for a reader who knows Go but not the
// runtime: "append growth" for growslice. "" for a kind without a
// description (a runtime function gotrace does not know).
std::string_view describe_allocation_kind(std::string_view kind);

}  // namespace gotrace
