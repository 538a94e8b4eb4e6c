// Fixture builds with damaged code, for the tests of what gotrace makes of
// allocator code it does not expect: the search for the allocator's entry
// points (tier fixture) and tracing's refusal of what that search does not
// understand (tier integration). A damaged copy is held in memory and
// searched there, or written out as an executable for gotrace to run.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "symbolizer/go_binary.h"
#include "tests/support/scratch_file.h"
#include "userspace/probe/entry_points.h"

namespace gotrace::testing {

// A build whose code calls size-specialized functions (allocs by Go 1.27,
// plain), as bytes to damage.
std::string specialized_fixture();

// The Go binary at `path`; nullptr, and a test failure, when it cannot be read.
std::unique_ptr<GoBinary> open_or_fail(const std::string& path);

// The entry address of function `name`; 0, and a test failure, when there
// is none.
uint64_t entry_of(const GoBinary& binary, std::string_view name);

// Rewrites a function's code in place: damage(code, length, entry vaddr).
using Damage = std::function<void(uint8_t* code, uint64_t length, uint64_t entry)>;

// The bytes of `path` with the code of every function rewritten by `damage`.
std::string damaged_copy(const std::string& path, const Damage& damage);

// In the function at `entry`, aims every call that goes to `from` (every
// call, when `from` is 0) at `to` instead.
Damage redirect_calls(uint64_t entry, uint64_t from, uint64_t to);

// What was found in a binary held in memory, with the bytes and the binary
// that the function names point into.
struct Searched : AllocationEntryPoints {
  std::unique_ptr<std::string> bytes;
  std::unique_ptr<GoBinary> binary;
};

// The allocation entry points of the binary whose bytes are `bytes`.
Result<Searched> find_in_bytes(std::string bytes);

// An allocator function that no longer reaches the allocator's core: what a
// release that changed the allocator again could look like. The build of
// specialized_fixture() with every call in runtime.mallocgcTinySC2 aimed at
// its own entry, in memory (bytes_) and as an executable (path_).
class EntryPointsNotUnderstood : public ::testing::Test {
 protected:
  void SetUp() override;

  std::string bytes_;
  ScratchFile copy_{"entry-points-not-understood"};
  std::string path_ = copy_.path();
};

}  // namespace gotrace::testing
