// The benchmarks' random numbers: splitmix64, a generator of our own, so that
// a seed gives the same inputs on every machine and library version.
#pragma once

#include <cstdint>

namespace gotrace::bench {

struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (Lemire's multiply-shift; the bias is below 2^-40 here).
  uint64_t below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64); }
  // Uniform in [0, 1).
  double unit() { return (next() >> 11) * 0x1.0p-53; }
};

}  // namespace gotrace::bench
