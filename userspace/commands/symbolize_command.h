// `gotrace symbolize`: file addresses of a Go binary → functions, files, lines.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "base/result.h"

namespace gotrace {

struct SymbolizeOptions {
  std::string binary;
  std::vector<uint64_t> addresses;
  bool json = false;
  bool return_addresses = false;  // look up the call before each address (pc-1)
};

// Writes one result per address, in order, to `out`.
Status run_symbolize(const SymbolizeOptions& options, std::ostream& out);

}  // namespace gotrace
