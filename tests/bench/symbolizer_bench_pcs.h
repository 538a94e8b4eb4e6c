// The PCs symbolizer_bench symbolizes: generated to imitate what a tracer
// sees, or read from a file; and written for go tool addr2line to read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "symbolizer/go_binary.h"

namespace gotrace::bench {

struct PcMix {
  uint64_t count = 1'000'000;
  uint64_t seed = 1;
  double hot_fraction = 0.1;  // share of PCs drawn from the hot set
  uint64_t hot_set_size = 1024;
};

// PCs uniform over the bytes of text inside functions (padding, which has
// no line data and no stack points into, is skipped), `mix.hot_fraction` of
// them repeats from a small hot set. `rejected` counts the padding PCs drawn.
Result<std::vector<uint64_t>> generate_pcs(const GoBinary& binary, const PcMix& mix, uint64_t* rejected);

Result<std::string> read_file(const std::string& path);

// Hex PCs (0x optional), one per line.
Result<std::vector<uint64_t>> read_pcs(const std::string& path);

// One PC per line as 0x...
Status write_pcs(const std::string& path, const std::vector<uint64_t>& pcs);

}  // namespace gotrace::bench
