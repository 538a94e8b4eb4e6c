// The Go type of an allocation, read from the code that called the allocator.
//
// A probe on runtime.profilealloc (the runtime's heap-profile sampler) sees
// the stack of a sampled allocation but not the type that runtime.mallocgc
// (or newobject, makeslice, ...) was handed, which exact mode reads from a
// register at the allocator's entry. The code of the callers usually says
// which it was: `LEAQ type:main.Order(SB), AX; CALL runtime.newobject(SB)`.
// This is a backward data flow over each caller's code, decoded linearly from
// its entry (Go puts no data in its text), along the branches that reach the
// call: the instruction that last wrote the register on every path decides
// (a type's address, nil, or a copy from another register followed further);
// a register no path writes is the function's own argument, followed one
// frame up at its caller's call. Anything else (a load from memory, such as a
// generic function's dictionary; a call in between, as every register is
// caller-saved in Go's ABI; paths that disagree) is unknown, never a guess.
//
// The Go register ABI: https://go.dev/s/regabi (integer arguments in RAX,
// RBX, RCX, RDI, RSI, R8, R9, R10, R11).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>

#include "symbolizer/go_binary.h"

namespace gotrace {

// The integer argument registers of Go's register ABI, in argument order.
enum class ArgumentRegister : uint8_t { kRax, kRbx, kRcx, kRdi, kRsi, kR8, kR9, kR10, kR11 };
inline constexpr int kArgumentRegisterCount = 9;
std::string_view to_string(ArgumentRegister reg);

// What the code says about the type an allocation was made with.
struct AllocationType {
  enum class Kind : uint8_t {
    kKnown,    // type_vaddr is a type descriptor of the binary
    kUntyped,  // a nil type: memory without a type ("raw memory")
    kUnknown,  // the code does not say (a load from memory, paths that disagree, ...)
  };
  Kind kind = Kind::kUnknown;
  uint64_t type_vaddr = 0;  // link-time address of the runtime._type when kKnown
  bool operator==(const AllocationType&) const = default;
};

// The register that holds the type when compiled code calls the allocator
// entry point `function` (a runtime function name), for a binary of
// `release`; nullopt for a function that takes no type. From the runtime's
// signatures: mallocgc(size, typ, needzero) and the size-specialized
// mallocgc* functions that share its signature → RBX; newobject(typ),
// newarray(typ, n), makeslice(et, len, cap), makeslicecopy(et, ...),
// reflect.unsafe_New(typ) → RAX; growslice(oldPtr, newLen, oldCap, num, et)
// → RSI from Go 1.20, growslice(et, old, cap) → RAX before.
std::optional<ArgumentRegister> type_register_of(std::string_view function, const GoRelease& release);

// How far the analysis looks: frames followed up the stack for an argument,
// and the code of one function decoded.
inline constexpr int kMaxFramesFollowed = 4;
inline constexpr uint64_t kMaxFunctionBytes = 256 * 1024;

class AllocationTypes {
 public:
  explicit AllocationTypes(const GoBinary& binary);
  ~AllocationTypes();
  AllocationTypes(const AllocationTypes&) = delete;
  AllocationTypes& operator=(const AllocationTypes&) = delete;

  // `return_addresses`: link-time return addresses, leaf first, starting with
  // the one in the function that called the allocator entry point (exact
  // mode's pcs[0]); `type_register`: the register holding the type at that
  // call (type_register_of). Answers per call site are cached.
  AllocationType type_of(std::span<const uint64_t> return_addresses, ArgumentRegister type_register);

  // What one call site's code says: a type, nil, unknown, or, when
  // `argument` is set, the calling function's own argument in that register.
  struct CallSiteAnswer {
    AllocationType type;
    std::optional<ArgumentRegister> argument;
  };

 private:
  class FunctionCode;
  struct CachedAnswer {
    uint64_t return_address;
    CallSiteAnswer answer;
  };

  CallSiteAnswer at_call(uint64_t return_address, ArgumentRegister reg);
  const FunctionCode* code_of(uint64_t return_address);

  const GoBinary& binary_;
  std::unordered_map<uint64_t, CachedAnswer> answers_;  // by return address and register
  std::unique_ptr<FunctionCode> last_function_;           // the function decoded last
};

}  // namespace gotrace
