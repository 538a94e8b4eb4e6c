// Exit codes of the gotrace command, as documented in --help and README.md.
#pragma once

namespace gotrace {

inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;  // a runtime failure: bad input file, a process gone, BPF refused
inline constexpr int kExitUsage = 2;    // the command line itself is wrong

}  // namespace gotrace
