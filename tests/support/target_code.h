// The code of a traced process as it is in memory, against its binary's
// file: a uprobe in place shows there as an int3 (0xcc) over the first byte
// of the probed instruction, so code that equals the file has no probe left.
// Read only, through /proc/<pid>/mem: the check never writes to the target.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gotrace::testing {

// One byte of code that differs from the file.
struct CodeDifference {
  uint64_t address = 0;      // in the process
  uint64_t file_offset = 0;  // in the binary
  uint8_t in_memory = 0;
  uint8_t in_file = 0;
};

// The executable mappings of a process's binary compared byte for byte with
// the file /proc/<pid>/exe leads to (so a deleted binary, or one in another
// mount namespace, is the right file).
struct CodeComparison {
  std::string error;  // why nothing could be compared; empty when it could
  uint64_t bytes_compared = 0;
  std::vector<std::pair<uint64_t, uint64_t>> file_ranges;  // [begin, end) of the file compared
  std::vector<CodeDifference> differences;                 // the first kMaxDifferences

  static constexpr size_t kMaxDifferences = 64;
  bool covers(uint64_t file_offset) const;
  // Whether the byte at `file_offset` is a breakpoint, 0xcc where the file has another.
  bool breakpoint_at(uint64_t file_offset) const;
  // "0x47d24a (file 0x7d24a): cc in memory, 55 in the file; ..." or the error.
  std::string describe() const;
};

CodeComparison compare_code_with_file(pid_t pid);

// A test failure for each of `sites` (file offsets in the binary of process
// `pid`) where its code shows no breakpoint: where gotrace's probes are not live.
void expect_breakpoints_at(pid_t pid, const std::vector<uint64_t>& sites);

// The file offsets where gotrace places its probes in the binary of process
// `pid`, as `gotrace info --json PID` lists them; a test failure and none
// when it cannot say.
std::vector<uint64_t> probe_file_offsets(pid_t pid);

}  // namespace gotrace::testing
