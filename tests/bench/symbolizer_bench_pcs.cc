#include "tests/bench/symbolizer_bench_pcs.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>

#include <fmt/format.h>

#include "tests/bench/split_mix64.h"

namespace gotrace::bench {

Result<std::vector<uint64_t>> generate_pcs(const GoBinary& binary, const PcMix& mix, uint64_t* rejected) {
  const Pclntab& table = binary.pclntab();
  uint64_t lo = table.min_pc(), span = table.max_pc() - table.min_pc();
  SplitMix64 rng{mix.seed};
  std::vector<Frame> frames;
  *rejected = 0;
  // Appends a PC uniform over [min_pc, max_pc), keeping only PCs that
  // resolve: that is uniform over the bytes inside functions (padding has no
  // line data). False when none resolves.
  auto add_spread_pc = [&](std::vector<uint64_t>& to) {
    for (int attempt = 0; attempt < 1000; ++attempt) {
      uint64_t pc = lo + rng.below(span);
      frames.clear();
      if (binary.symbolize(pc, false, &frames) == nullptr) {
        to.push_back(pc);
        return true;
      }
      ++*rejected;
    }
    return false;
  };
  auto no_line_information = [] { return make_error("cannot find PCs with line information in the text"); };
  std::vector<uint64_t> hot;
  uint64_t hot_size = mix.hot_fraction > 0 ? std::min(mix.hot_set_size, std::max<uint64_t>(mix.count, 1)) : 0;
  for (uint64_t i = 0; i < hot_size; ++i)
    if (!add_spread_pc(hot)) return no_line_information();
  std::vector<uint64_t> pcs;
  pcs.reserve(mix.count);
  for (uint64_t i = 0; i < mix.count; ++i) {
    if (!hot.empty() && rng.unit() < mix.hot_fraction) pcs.push_back(hot[rng.below(hot.size())]);
    else if (!add_spread_pc(pcs)) return no_line_information();
  }
  return pcs;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("'{}': {}", path, std::strerror(errno));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Result<std::vector<uint64_t>> read_pcs(const std::string& path) {
  auto text = read_file(path);
  if (!text) return text.error();
  std::vector<uint64_t> pcs;
  size_t line_number = 0, pos = 0;
  while (pos < text->size()) {
    size_t eol = text->find('\n', pos);
    if (eol == std::string::npos) eol = text->size();
    std::string_view line(text->data() + pos, eol - pos);
    pos = eol + 1;
    ++line_number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.starts_with("0x") || line.starts_with("0X")) line.remove_prefix(2);
    uint64_t pc = 0;
    bool ok = !line.empty() && line.size() <= 16;
    for (char c : line) {
      int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (digit < 0) ok = false;
      pc = pc << 4 | uint64_t(digit & 0xf);
    }
    if (!ok) return make_error("{}:{}: not a hex PC", path, line_number);
    pcs.push_back(pc);
  }
  return pcs;
}

Status write_pcs(const std::string& path, const std::vector<uint64_t>& pcs) {
  FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) return make_error("'{}': {}", path, std::strerror(errno));
  for (uint64_t pc : pcs) fmt::print(out, "0x{:x}\n", pc);
  if (std::fclose(out) != 0) return make_error("'{}': write failed", path);
  return Ok{};
}

}  // namespace gotrace::bench
