// symbolizer_bench: load time, memory and symbolization throughput of the
// Go symbolizer on one binary, optionally checked against `go tool addr2line`.
//
// It prints figures as `key=value` lines (scripts/bench-symbolizer.sh parses
// them); it asserts nothing about speed. See --help for the options.
//
// What is measured:
//  - load: GoBinary::open wall time over several fresh loads (median, min,
//    max, and the first one, which may include reading the file from disk),
//    and the process's peak RSS (VmHWM) once the loads are done;
//  - throughput: symbolize(pc, /*return_address=*/false) over every PC, all
//    frames with inlining expanded, on a freshly opened binary (cold: the
//    decoded-table cache is empty) and then again on the same one (warm), in
//    PCs per second, median of --repeat rounds;
//  - with --expect, agreement with `go tool addr2line`, which reports the
//    physical (outermost) function and the innermost file:line.
//
// Generated PCs imitate what a tracer sees: most are uniform over the bytes
// of text that lie inside functions (so each function is hit in proportion
// to its size, and alignment padding, which no stack ever points into, is
// skipped); a share (--hot-fraction) repeats a small hot set, as the same
// stacks recur in a real trace. The generator is seeded and its arithmetic
// is its own (splitmix64), so a seed gives the same PCs on every machine.

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "tests/bench/split_mix64.h"
#include "symbolizer/go_binary.h"

namespace {

using gotrace::Frame;
using gotrace::GoBinary;

struct Options {
  std::string binary;
  std::string pcs_file;
  uint64_t count = 1'000'000;
  uint64_t seed = 1;
  double hot_fraction = 0.1;
  uint64_t hot_set_size = 1024;
  std::string write_pcs;
  bool generate_only = false;
  std::string expect_file;
  std::string write_results;
  std::string write_frames;
  uint64_t max_mismatches = 10;
  int loads = 9;
  int repeat = 3;
};

void usage(FILE* out) {
  fmt::print(out,
             "usage: symbolizer_bench BINARY [options]\n"
             "  --pcs FILE           PCs to symbolize: hex (0x optional), one per line\n"
             "  --count N            without --pcs, generate N PCs (default 1000000)\n"
             "  --seed S             seed of the generated PCs (default 1)\n"
             "  --hot-fraction F     share of generated PCs drawn from a hot set (default 0.1)\n"
             "  --hot-set N          size of that hot set (default 1024)\n"
             "  --write-pcs FILE     write the PCs used, one per line as 0x..., for go tool addr2line\n"
             "  --generate-only      write the PCs (--write-pcs) and stop\n"
             "  --expect FILE        verify: line i is 'function<TAB>file:line' as go tool addr2line\n"
             "                       reports PC i (may cover only the first PCs)\n"
             "  --max-mismatches N   mismatches to print in full (default 10)\n"
             "  --write-results FILE write gotrace's answers in the --expect format\n"
             "  --write-frames FILE  write every frame of every PC (to compare symbolizer versions)\n"
             "  --loads N            fresh loads to time (default 9)\n"
             "  --repeat N           rounds of (fresh load, cold pass, warm pass) (default 3)\n");
}

[[noreturn]] void die(const std::string& message) {
  fmt::print(stderr, "symbolizer_bench: {}\n", message);
  std::exit(1);
}

std::optional<Options> parse_args(int argc, char** argv) {
  Options o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    auto number = [&]() -> uint64_t {
      std::string v = value();
      char* end = nullptr;
      errno = 0;
      unsigned long long n = std::strtoull(v.c_str(), &end, 10);
      if (errno != 0 || end == v.c_str() || *end != '\0') die(fmt::format("{}: not a number: '{}'", arg, v));
      return n;
    };
    if (arg == "-h" || arg == "--help") {
      usage(stdout);
      std::exit(0);
    } else if (arg == "--pcs") {
      o.pcs_file = value();
    } else if (arg == "--count") {
      o.count = number();
    } else if (arg == "--seed") {
      o.seed = number();
    } else if (arg == "--hot-fraction") {
      std::string v = value();
      char* end = nullptr;
      o.hot_fraction = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || o.hot_fraction < 0 || o.hot_fraction > 1)
        die("--hot-fraction must be between 0 and 1");
    } else if (arg == "--hot-set") {
      o.hot_set_size = std::max<uint64_t>(1, number());
    } else if (arg == "--write-pcs") {
      o.write_pcs = value();
    } else if (arg == "--generate-only") {
      o.generate_only = true;
    } else if (arg == "--expect") {
      o.expect_file = value();
    } else if (arg == "--max-mismatches") {
      o.max_mismatches = number();
    } else if (arg == "--write-results") {
      o.write_results = value();
    } else if (arg == "--write-frames") {
      o.write_frames = value();
    } else if (arg == "--loads") {
      o.loads = static_cast<int>(std::clamp<uint64_t>(number(), 1, 1000));
    } else if (arg == "--repeat") {
      o.repeat = static_cast<int>(std::clamp<uint64_t>(number(), 1, 100));
    } else if (arg.starts_with("-")) {
      die(fmt::format("unknown option '{}' (see --help)", arg));
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 1) {
    usage(stderr);
    return std::nullopt;
  }
  o.binary = positional[0];
  if (o.generate_only && o.write_pcs.empty()) die("--generate-only needs --write-pcs");
  return o;
}

// --- measurement helpers ---

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// A field of /proc/self/status in KiB ("VmHWM", "VmRSS"), or 0.
uint64_t status_kib(std::string_view field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 && line[field.size()] == ':')
      return std::strtoull(line.c_str() + field.size() + 1, nullptr, 10);
  }
  return 0;
}

double mib(uint64_t kib) { return kib / 1024.0; }

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::unique_ptr<GoBinary> open_or_die(const std::string& path) {
  auto binary = GoBinary::open(path);
  if (!binary) die(binary.error().message);
  return std::move(*binary);
}

// --- PCs ---


std::vector<uint64_t> generate_pcs(const GoBinary& binary, const Options& o, uint64_t* rejected) {
  const gotrace::Pclntab& table = binary.pclntab();
  uint64_t lo = table.min_pc(), span = table.max_pc() - table.min_pc();
  gotrace::bench::SplitMix64 rng{o.seed};
  std::vector<Frame> frames;
  *rejected = 0;
  // Uniform over [min_pc, max_pc), keeping only PCs that resolve: that is
  // uniform over the bytes inside functions (padding has no line data).
  auto spread_pc = [&]() {
    for (int attempt = 0; attempt < 1000; ++attempt) {
      uint64_t pc = lo + rng.below(span);
      frames.clear();
      if (binary.symbolize(pc, false, &frames) == nullptr) return pc;
      ++*rejected;
    }
    die("cannot find PCs with line information in the text");
  };
  std::vector<uint64_t> hot;
  uint64_t hot_size = o.hot_fraction > 0 ? std::min(o.hot_set_size, std::max<uint64_t>(o.count, 1)) : 0;
  for (uint64_t i = 0; i < hot_size; ++i) hot.push_back(spread_pc());
  std::vector<uint64_t> pcs;
  pcs.reserve(o.count);
  for (uint64_t i = 0; i < o.count; ++i) {
    if (!hot.empty() && rng.unit() < o.hot_fraction) pcs.push_back(hot[rng.below(hot.size())]);
    else pcs.push_back(spread_pc());
  }
  return pcs;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die(fmt::format("'{}': {}", path, std::strerror(errno)));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<uint64_t> read_pcs(const std::string& path) {
  std::string text = read_file(path);
  std::vector<uint64_t> pcs;
  size_t line_number = 0, pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string_view line(text.data() + pos, eol - pos);
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
    if (!ok) die(fmt::format("{}:{}: not a hex PC", path, line_number));
    pcs.push_back(pc);
  }
  return pcs;
}

void write_pcs(const std::string& path, const std::vector<uint64_t>& pcs) {
  FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) die(fmt::format("'{}': {}", path, std::strerror(errno)));
  for (uint64_t pc : pcs) fmt::print(out, "0x{:x}\n", pc);
  if (std::fclose(out) != 0) die(fmt::format("'{}': write failed", path));
}

// --- symbolization ---

struct PassResult {
  double wall = 0, cpu = 0;
  uint64_t frames = 0, inlined = 0, unresolved = 0, checksum = 0;
};

PassResult symbolize_all(const GoBinary& binary, const std::vector<uint64_t>& pcs) {
  PassResult r;
  std::vector<Frame> frames;
  frames.reserve(64);
  double cpu0 = cpu_seconds(), t0 = now_seconds();
  for (uint64_t pc : pcs) {
    frames.clear();
    if (binary.symbolize(pc, false, &frames) != nullptr) {
      ++r.unresolved;
      continue;
    }
    r.frames += frames.size();
    for (const Frame& f : frames) {
      r.inlined += f.inlined;
      // Touch what a consumer would use so nothing is optimised away.
      r.checksum = r.checksum * 31 + uint64_t(f.line) + f.function.size() + f.file.size();
    }
  }
  r.wall = now_seconds() - t0;
  r.cpu = cpu_seconds() - cpu0;
  return r;
}

// What go tool addr2line prints for a PC: the physical (outermost) function
// and the innermost position, or "?" and "?:0".
std::string addr2line_view(const GoBinary& binary, uint64_t pc, std::vector<Frame>* frames) {
  frames->clear();
  if (binary.symbolize(pc, false, frames) != nullptr || frames->empty()) return "?\t?:0";
  return fmt::format("{}\t{}:{}", frames->back().function, frames->front().file, frames->front().line);
}

std::string describe_frames(const std::vector<Frame>& frames) {
  std::string out;
  for (const Frame& f : frames)
    out += fmt::format("{}{} (func line {}) {}:{}{}", out.empty() ? "" : " <- ", f.function, f.start_line, f.file,
                       f.line, f.inlined ? " [inlined]" : "");
  return out.empty() ? "(unresolved)" : out;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse_args(argc, argv);
  if (!parsed) return 2;
  const Options& o = *parsed;

  if (o.generate_only) {
    auto binary = open_or_die(o.binary);
    uint64_t rejected = 0;
    auto pcs = generate_pcs(*binary, o, &rejected);
    write_pcs(o.write_pcs, pcs);
    fmt::print("pcs={}\npcs_source=generated seed={} hot_fraction={} hot_set={}\npadding_rejected={}\n", pcs.size(),
               o.seed, o.hot_fraction, o.hot_set_size, rejected);
    return 0;
  }

  // (a) Load: fresh loads, each destroyed before the next.
  uint64_t rss_before = status_kib("VmRSS");
  std::vector<double> load_ms;
  uint64_t rss_loaded = 0;
  for (int i = 0; i < o.loads; ++i) {
    double t0 = now_seconds();
    auto binary = open_or_die(o.binary);
    load_ms.push_back((now_seconds() - t0) * 1e3);
    if (i == 0) {
      rss_loaded = status_kib("VmRSS");
      const auto& table = binary->pclntab();
      fmt::print("binary={}\ngo_version={}\npclntab_format={}\nfunctions={}\ntext=0x{:x}-0x{:x}\ntext_bytes={}\n",
                 o.binary, binary->build_info().go_version, gotrace::to_string(table.format()),
                 table.function_count(), table.min_pc(), table.max_pc(), table.max_pc() - table.min_pc());
    }
  }
  uint64_t hwm_after_load = status_kib("VmHWM");
  fmt::print("loads={}\nload_ms_first={:.3f}\nload_ms_median={:.3f}\nload_ms_min={:.3f}\nload_ms_max={:.3f}\n",
             load_ms.size(), load_ms[0], median(load_ms), *std::min_element(load_ms.begin(), load_ms.end()),
             *std::max_element(load_ms.begin(), load_ms.end()));
  fmt::print("rss_before_load_mib={:.1f}\nrss_after_load_mib={:.1f}\npeak_rss_after_load_mib={:.1f}\n",
             mib(rss_before), mib(rss_loaded), mib(hwm_after_load));

  // The PCs, from a file or generated with a throwaway binary so that the
  // cold pass below starts with an empty cache.
  std::vector<uint64_t> pcs;
  if (!o.pcs_file.empty()) {
    pcs = read_pcs(o.pcs_file);
    fmt::print("pcs={}\npcs_source=file {}\n", pcs.size(), o.pcs_file);
  } else {
    auto binary = open_or_die(o.binary);
    uint64_t rejected = 0;
    pcs = generate_pcs(*binary, o, &rejected);
    fmt::print("pcs={}\npcs_source=generated seed={} hot_fraction={} hot_set={}\npadding_rejected={}\n", pcs.size(),
               o.seed, o.hot_fraction, o.hot_set_size, rejected);
  }
  if (pcs.empty()) die("no PCs");
  if (!o.write_pcs.empty()) write_pcs(o.write_pcs, pcs);

  // (b) Throughput: rounds of a fresh binary, a cold pass and a warm pass.
  std::vector<double> cold_rate, warm_rate, cold_cpu_rate, warm_cpu_rate;
  PassResult first;
  for (int round = 0; round < o.repeat; ++round) {
    auto binary = open_or_die(o.binary);
    PassResult cold = symbolize_all(*binary, pcs);
    PassResult warm = symbolize_all(*binary, pcs);
    if (warm.checksum != cold.checksum || warm.frames != cold.frames)
      die("the warm pass answered differently from the cold pass (cache bug)");
    if (round == 0) first = cold;
    cold_rate.push_back(pcs.size() / cold.wall);
    warm_rate.push_back(pcs.size() / warm.wall);
    cold_cpu_rate.push_back(pcs.size() / std::max(cold.cpu, 1e-9));
    warm_cpu_rate.push_back(pcs.size() / std::max(warm.cpu, 1e-9));
    fmt::print("round{}_cold_s={:.4f} round{}_warm_s={:.4f}\n", round, cold.wall, round, warm.wall);
  }
  fmt::print("frames_per_pc={:.3f}\ninlined_frames_per_pc={:.3f}\nunresolved={}\n",
             double(first.frames) / pcs.size(), double(first.inlined) / pcs.size(), first.unresolved);
  fmt::print("cold_pcs_per_sec={:.0f}\nwarm_pcs_per_sec={:.0f}\n", median(cold_rate), median(warm_rate));
  fmt::print("cold_pcs_per_cpu_sec={:.0f}\nwarm_pcs_per_cpu_sec={:.0f}\n", median(cold_cpu_rate),
             median(warm_cpu_rate));
  fmt::print("cold_ns_per_pc={:.1f}\nwarm_ns_per_pc={:.1f}\n", 1e9 / median(cold_rate), 1e9 / median(warm_rate));
  fmt::print("peak_rss_end_mib={:.1f}\n", mib(status_kib("VmHWM")));

  // (c) Agreement with go tool addr2line, and gotrace's own answers.
  int status = 0;
  if (!o.expect_file.empty() || !o.write_results.empty() || !o.write_frames.empty()) {
    auto binary = open_or_die(o.binary);
    std::vector<Frame> frames;
    if (!o.write_frames.empty()) {
      FILE* out = std::fopen(o.write_frames.c_str(), "w");
      if (out == nullptr) die(fmt::format("'{}': {}", o.write_frames, std::strerror(errno)));
      for (uint64_t pc : pcs) {
        frames.clear();
        const char* failure = binary->symbolize(pc, false, &frames);
        fmt::print(out, "0x{:x}\t{}\n", pc, failure != nullptr ? failure : describe_frames(frames));
      }
      std::fclose(out);
    }
    if (!o.write_results.empty()) {
      FILE* out = std::fopen(o.write_results.c_str(), "w");
      if (out == nullptr) die(fmt::format("'{}': {}", o.write_results, std::strerror(errno)));
      for (uint64_t pc : pcs) fmt::print(out, "{}\n", addr2line_view(*binary, pc, &frames));
      std::fclose(out);
    }
    if (!o.expect_file.empty()) {
      std::string expected = read_file(o.expect_file);
      uint64_t compared = 0, mismatches = 0;
      size_t pos = 0;
      for (uint64_t pc : pcs) {
        if (pos >= expected.size()) break;
        size_t eol = expected.find('\n', pos);
        if (eol == std::string::npos) eol = expected.size();
        std::string_view want(expected.data() + pos, eol - pos);
        pos = eol + 1;
        ++compared;
        std::string got = addr2line_view(*binary, pc, &frames);
        if (got == want) continue;
        if (++mismatches <= o.max_mismatches) {
          fmt::print("mismatch pc=0x{:x}\n  addr2line: {}\n  gotrace:   {}\n  frames:    {}\n", pc, want, got,
                     describe_frames(frames));
        }
      }
      fmt::print("verified={}\nmismatches={}\n", compared, mismatches);
      if (compared < std::min<uint64_t>(pcs.size(), 1)) die("the expected file is empty");
      if (mismatches > 0) status = 3;
    }
  }
  return status;
}
