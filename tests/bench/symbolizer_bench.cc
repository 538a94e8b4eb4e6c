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
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "symbolizer/go_binary.h"
#include "tests/bench/measure.h"
#include "tests/bench/symbolizer_bench_pcs.h"

namespace {

using gotrace::Frame;
using gotrace::GoBinary;
using namespace gotrace::bench;

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

uint64_t parse_number(const std::string& option, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || *end != '\0') die(fmt::format("{}: not a number: '{}'", option, text));
  return n;
}

// The options that only take a file name or a count, by name.
template <typename Field>
using Named = std::pair<std::string_view, Field Options::*>;
const Named<std::string> kFileOptions[] = {{"--pcs", &Options::pcs_file},
                                           {"--write-pcs", &Options::write_pcs},
                                           {"--expect", &Options::expect_file},
                                           {"--write-results", &Options::write_results},
                                           {"--write-frames", &Options::write_frames}};
const Named<uint64_t> kCountOptions[] = {
    {"--count", &Options::count}, {"--seed", &Options::seed}, {"--max-mismatches", &Options::max_mismatches}};

template <typename Field, size_t N>
Field* find_option(Options& o, const Named<Field> (&named)[N], std::string_view arg) {
  for (const auto& [name, field] : named)
    if (name == arg) return &(o.*field);
  return nullptr;
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
    if (arg == "-h" || arg == "--help") {
      usage(stdout);
      std::exit(0);
    } else if (std::string* file = find_option(o, kFileOptions, arg)) {
      *file = value();
    } else if (uint64_t* count = find_option(o, kCountOptions, arg)) {
      *count = parse_number(arg, value());
    } else if (arg == "--hot-fraction") {
      std::string v = value();
      char* end = nullptr;
      o.hot_fraction = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || o.hot_fraction < 0 || o.hot_fraction > 1)
        die("--hot-fraction must be between 0 and 1");
    } else if (arg == "--hot-set") {
      o.hot_set_size = std::max<uint64_t>(1, parse_number(arg, value()));
    } else if (arg == "--generate-only") {
      o.generate_only = true;
    } else if (arg == "--loads") {
      o.loads = static_cast<int>(std::clamp<uint64_t>(parse_number(arg, value()), 1, 1000));
    } else if (arg == "--repeat") {
      o.repeat = static_cast<int>(std::clamp<uint64_t>(parse_number(arg, value()), 1, 100));
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

double mib(uint64_t kib) { return kib / 1024.0; }

template <typename T>
T value_or_die(gotrace::Result<T> result) {
  if (!result) die(result.error().message);
  return std::move(*result);
}

std::unique_ptr<GoBinary> open_or_die(const std::string& path) { return value_or_die(GoBinary::open(path)); }

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

// PCs generated with a throwaway binary, so that a later cold pass starts
// with an empty cache.
std::vector<uint64_t> generated_pcs(const Options& o, uint64_t* rejected) {
  auto binary = open_or_die(o.binary);
  return value_or_die(generate_pcs(*binary, {o.count, o.seed, o.hot_fraction, o.hot_set_size}, rejected));
}

void print_generated(const Options& o, const std::vector<uint64_t>& pcs, uint64_t rejected) {
  fmt::print("pcs={}\npcs_source=generated seed={} hot_fraction={} hot_set={}\npadding_rejected={}\n", pcs.size(),
             o.seed, o.hot_fraction, o.hot_set_size, rejected);
}

// (a) Load: fresh loads, each destroyed before the next.
void measure_loads(const Options& o) {
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
}

// (b) Throughput: rounds of a fresh binary, a cold pass and a warm pass.
void measure_throughput(const Options& o, const std::vector<uint64_t>& pcs) {
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
}

FILE* create_or_die(const std::string& path) {
  FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) die(fmt::format("'{}': {}", path, std::strerror(errno)));
  return out;
}

// Every frame of every PC, or why it has none.
void write_frames(const GoBinary& binary, const std::vector<uint64_t>& pcs, const std::string& path) {
  FILE* out = create_or_die(path);
  std::vector<Frame> frames;
  for (uint64_t pc : pcs) {
    frames.clear();
    const char* failure = binary.symbolize(pc, false, &frames);
    fmt::print(out, "0x{:x}\t{}\n", pc, failure != nullptr ? failure : describe_frames(frames));
  }
  std::fclose(out);
}

// gotrace's answers in the --expect format.
void write_results(const GoBinary& binary, const std::vector<uint64_t>& pcs, const std::string& path) {
  FILE* out = create_or_die(path);
  std::vector<Frame> frames;
  for (uint64_t pc : pcs) fmt::print(out, "{}\n", addr2line_view(binary, pc, &frames));
  std::fclose(out);
}

// Compares with go tool addr2line's answers, line i for PC i; returns the
// number of mismatches.
uint64_t compare_with_expected(const GoBinary& binary, const std::vector<uint64_t>& pcs, const Options& o) {
  std::string expected = value_or_die(read_file(o.expect_file));
  std::vector<Frame> frames;
  uint64_t compared = 0, mismatches = 0;
  size_t pos = 0;
  for (uint64_t pc : pcs) {
    if (pos >= expected.size()) break;
    size_t eol = expected.find('\n', pos);
    if (eol == std::string::npos) eol = expected.size();
    std::string_view want(expected.data() + pos, eol - pos);
    pos = eol + 1;
    ++compared;
    std::string got = addr2line_view(binary, pc, &frames);
    if (got == want) continue;
    if (++mismatches <= o.max_mismatches) {
      fmt::print("mismatch pc=0x{:x}\n  addr2line: {}\n  gotrace:   {}\n  frames:    {}\n", pc, want, got,
                 describe_frames(frames));
    }
  }
  fmt::print("verified={}\nmismatches={}\n", compared, mismatches);
  if (compared < std::min<uint64_t>(pcs.size(), 1)) die("the expected file is empty");
  return mismatches;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse_args(argc, argv);
  if (!parsed) return 2;
  const Options& o = *parsed;

  uint64_t rejected = 0;
  if (o.generate_only) {
    auto pcs = generated_pcs(o, &rejected);
    value_or_die(write_pcs(o.write_pcs, pcs));
    print_generated(o, pcs, rejected);
    return 0;
  }

  measure_loads(o);
  std::vector<uint64_t> pcs;
  if (!o.pcs_file.empty()) {
    pcs = value_or_die(read_pcs(o.pcs_file));
    fmt::print("pcs={}\npcs_source=file {}\n", pcs.size(), o.pcs_file);
  } else {
    pcs = generated_pcs(o, &rejected);
    print_generated(o, pcs, rejected);
  }
  if (pcs.empty()) die("no PCs");
  if (!o.write_pcs.empty()) value_or_die(write_pcs(o.write_pcs, pcs));
  measure_throughput(o, pcs);

  // (c) Agreement with go tool addr2line, and gotrace's own answers.
  if (o.expect_file.empty() && o.write_results.empty() && o.write_frames.empty()) return 0;
  auto binary = open_or_die(o.binary);
  if (!o.write_frames.empty()) write_frames(*binary, pcs, o.write_frames);
  if (!o.write_results.empty()) write_results(*binary, pcs, o.write_results);
  if (!o.expect_file.empty() && compare_with_expected(*binary, pcs, o) > 0) return 3;
  return 0;
}
