// consumer_bench: the aggregation hot path of gotrace's userspace consumer,
// without the kernel.
//
// It feeds synthetic allocation records (bpf/gotrace_abi.h) to
// gotrace::StackAggregator, the code the event loop runs for every record the
// BPF ring buffer delivers, on one thread pinned to one core, and reports how
// many records per second that sustains, the time per record, the CPU time per
// million records, the process's peak RSS, and what one snapshot for the live
// view costs the event loop. It prints `key=value` lines
// (scripts/bench-overhead.sh parses them) and asserts nothing about speed.
//
// The records imitate a busy Go service: --stacks distinct stacks (default
// 4000) of depth 10 to 40, leaf first; they share root frames (main.main,
// runtime.main, runtime.goexit and a few layers of framework code) and
// differ toward the leaf, as real stacks do. Each stack has one of a few
// hundred types (a quarter pointer-free, some 0 for raw memory) and a size
// drawn from a Go-like mix (mostly under 128 bytes, some up to 32 KiB, a
// few large). Popularity is Zipf-like (the k-th most popular stack is drawn
// with weight 1/k^s, --zipf s, default 1.0), in a seeded order, so a few hot
// stacks take most records and a long tail is seen now and then.
//
// Every record is a full-size gotrace_alloc_event of which only stack_depth
// pcs are read, as the aggregator reads the variable-length records it is
// handed from the ring buffer. A first pass inserts every stack (cold:
// includes the first-time insertions); the timed rounds then measure the
// steady state, where every stack is known. Figures are the median of
// --rounds rounds of --events records each.

#include <sched.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "tests/bench/measure.h"
#include "tests/bench/split_mix64.h"
#include "bpf/gotrace_abi.h"
#include "userspace/profile/aggregator.h"
#include "userspace/profile/allocation_size.h"
#include "userspace/tui/trace_snapshot.h"

namespace {

using gotrace::bench::median;
using gotrace::bench::status_kib;

struct Options {
  uint64_t stacks = 4000;
  uint32_t min_depth = 10;
  uint32_t max_depth = 40;
  double zipf = 1.0;
  uint64_t events = 20'000'000;
  int rounds = 5;
  uint64_t seed = 1;
  int cpu = -1;  // -1: the CPU the process starts on
};

void usage(FILE* out) {
  fmt::print(out,
             "usage: consumer_bench [options]\n"
             "  --stacks N       distinct stacks (default 4000)\n"
             "  --min-depth N    shallowest stack (default 10)\n"
             "  --max-depth N    deepest stack (default 40, at most {})\n"
             "  --zipf S         popularity exponent: the k-th stack has weight 1/k^S (default 1.0)\n"
             "  --events N       records per timed round (default 20000000)\n"
             "  --rounds N       timed rounds; figures are medians (default 5)\n"
             "  --seed S         seed of the synthetic records (default 1)\n"
             "  --cpu N          pin to this CPU (default: the one it starts on)\n",
             GOTRACE_MAX_STACK_DEPTH);
}

bool parse_u64(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(std::string(text).c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

// A Go-like request size: mostly small, a tail of medium and a few large.
uint64_t draw_size(gotrace::bench::SplitMix64& rng) {
  double u = rng.unit();
  if (u < 0.55) return 8 + 8 * rng.below(8);         // 8..64
  if (u < 0.85) return 64 + 16 * rng.below(12);      // 64..240
  if (u < 0.97) return 256 + 64 * rng.below(60);     // 256..4 KiB
  if (u < 0.995) return 4096 + 512 * rng.below(56);  // 4..32 KiB
  return 32768 + 4096 * rng.below(256);              // large objects
}

struct Synthetic {
  std::vector<std::unique_ptr<gotrace_alloc_event>> records;  // one per distinct stack
  std::vector<uint16_t> sequence;                             // record index of each event, cycled
  double mean_depth = 0;
  uint64_t zero_type_stacks = 0;
};

Synthetic make_records(const Options& options) {
  gotrace::bench::SplitMix64 rng{options.seed};
  Synthetic out;
  // Return addresses inside an 8 MiB text segment starting at 0x401000.
  auto text_pc = [&] { return 0x401000 + rng.below(8u << 20); };
  // Root frames every stack shares (runtime.goexit, runtime.main, main.main),
  // then a few hundred "framework" frames deeper stacks pass through.
  std::vector<uint64_t> roots = {text_pc(), text_pc(), text_pc()};
  std::vector<uint64_t> framework(300);
  for (uint64_t& pc : framework) pc = text_pc();
  std::vector<uint64_t> types(400);
  for (size_t i = 0; i < types.size(); ++i) types[i] = i < 8 ? 0 : 0x4c0000 + 0x40 * rng.below(1 << 14);

  uint64_t depth_sum = 0;
  for (uint64_t s = 0; s < options.stacks; ++s) {
    auto event = std::make_unique<gotrace_alloc_event>();
    std::memset(event.get(), 0, sizeof(*event));
    uint32_t depth = options.min_depth + uint32_t(rng.below(options.max_depth - options.min_depth + 1));
    // Leaf first: unique leaf-side frames, then framework frames, then the roots.
    uint32_t root_side = std::min<uint32_t>(depth, 3 + uint32_t(rng.below(8)));
    uint32_t leaf_side = depth - root_side;
    for (uint32_t i = 0; i < leaf_side; ++i) event->pcs[i] = text_pc();
    for (uint32_t i = 0; i < root_side; ++i) {
      uint32_t from_root = root_side - 1 - i;
      event->pcs[leaf_side + i] = from_root < roots.size() ? roots[from_root] : framework[rng.below(framework.size())];
    }
    event->stack_depth = depth;
    event->type = types[rng.below(types.size())];
    if (event->type == 0) ++out.zero_type_stacks;
    event->size = draw_size(rng);
    event->tid = 1000 + uint32_t(rng.below(16));
    event->entry_point = GOTRACE_ENTRY_MALLOCGC;
    depth_sum += depth;
    out.records.push_back(std::move(event));
  }
  out.mean_depth = double(depth_sum) / double(options.stacks);

  // Zipf-like popularity over a random permutation of the stacks, drawn by
  // inverse CDF into a fixed sequence of 2^20 events that the rounds cycle.
  std::vector<uint32_t> rank(options.stacks);
  for (uint32_t i = 0; i < rank.size(); ++i) rank[i] = i;
  for (size_t i = rank.size(); i > 1; --i) std::swap(rank[i - 1], rank[rng.below(i)]);
  std::vector<double> cdf(options.stacks);
  double sum = 0;
  for (uint64_t k = 0; k < options.stacks; ++k) cdf[k] = (sum += 1.0 / std::pow(double(k + 1), options.zipf));
  out.sequence.resize(1 << 20);
  for (uint16_t& index : out.sequence) {
    double u = rng.unit() * sum;
    size_t k = std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin();
    index = uint16_t(rank[std::min(k, cdf.size() - 1)]);
  }
  // Make sure every stack occurs, so the cold pass inserts them all.
  for (uint32_t s = 0; s < options.stacks; ++s) out.sequence[rng.below(out.sequence.size())] = uint16_t(s);
  return out;
}

// Reads the command line into `options`; returns the exit status when the
// program is to stop there (help, or a bad command line).
std::optional<int> parse_options(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) {
        fmt::print(stderr, "consumer_bench: {} needs a value\n", arg);
        std::exit(2);
      }
      return argv[++i];
    };
    uint64_t n = 0;
    bool ok = true;
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      return 0;
    } else if (arg == "--stacks") {
      ok = parse_u64(value(), &options->stacks) && options->stacks > 0 && options->stacks <= 65535;
    } else if (arg == "--min-depth") {
      ok = parse_u64(value(), &n) && n >= 1 && n <= GOTRACE_MAX_STACK_DEPTH;
      options->min_depth = uint32_t(n);
    } else if (arg == "--max-depth") {
      ok = parse_u64(value(), &n) && n >= 1 && n <= GOTRACE_MAX_STACK_DEPTH;
      options->max_depth = uint32_t(n);
    } else if (arg == "--zipf") {
      char* end = nullptr;
      std::string text(value());
      options->zipf = std::strtod(text.c_str(), &end);
      ok = *end == '\0' && options->zipf >= 0;
    } else if (arg == "--events") {
      ok = parse_u64(value(), &options->events) && options->events > 0;
    } else if (arg == "--rounds") {
      ok = parse_u64(value(), &n) && n >= 1 && n <= 100;
      options->rounds = int(n);
    } else if (arg == "--seed") {
      ok = parse_u64(value(), &options->seed);
    } else if (arg == "--cpu") {
      ok = parse_u64(value(), &n) && n < CPU_SETSIZE;
      options->cpu = int(n);
    } else {
      usage(stderr);
      return 2;
    }
    if (!ok) {
      fmt::print(stderr, "consumer_bench: bad value for {}\n", arg);
      return 2;
    }
  }
  if (options->min_depth > options->max_depth) {
    fmt::print(stderr, "consumer_bench: --min-depth is over --max-depth\n");
    return 2;
  }
  return std::nullopt;
}

// One core: pin the (only) thread.
bool pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    fmt::print(stderr, "consumer_bench: cannot pin to CPU {}: {}\n", cpu, std::strerror(errno));
    return false;
  }
  return true;
}

// Feeds `count` records, from position `start` of the cycled sequence.
void feed(gotrace::StackAggregator& aggregator, const Synthetic& synthetic, uint64_t count, uint64_t start) {
  const auto& records = synthetic.records;
  const auto& sequence = synthetic.sequence;
  size_t mask = sequence.size() - 1;
  for (uint64_t i = 0; i < count; ++i) aggregator.add(*records[sequence[(start + i) & mask]]);
}

struct Figures {
  uint64_t cold_events = 0, cold_cpu_ns = 0;
  double cold_wall = 0;
  size_t distinct = 0;
  std::vector<double> rates, ns_per_event, cpu_ms_per_million;  // one per timed round
};

// The cold pass, one cycle of the sequence (which holds every stack), then
// the timed rounds.
Figures run_rounds(gotrace::StackAggregator& aggregator, const Synthetic& synthetic, const Options& options) {
  Figures figures;
  figures.cold_events = synthetic.sequence.size();
  auto t0 = std::chrono::steady_clock::now();
  uint64_t c0 = thread_cpu_ns();
  feed(aggregator, synthetic, figures.cold_events, 0);
  figures.cold_cpu_ns = thread_cpu_ns() - c0;
  figures.cold_wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  figures.distinct = aggregator.stack_count();

  uint64_t position = figures.cold_events;
  for (int round = 0; round < options.rounds; ++round) {
    auto w0 = std::chrono::steady_clock::now();
    uint64_t cpu0 = thread_cpu_ns();
    feed(aggregator, synthetic, options.events, position);
    uint64_t cpu = thread_cpu_ns() - cpu0;
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    position += options.events;
    figures.rates.push_back(double(options.events) / wall);
    figures.ns_per_event.push_back(wall * 1e9 / double(options.events));
    figures.cpu_ms_per_million.push_back(double(cpu) / 1e6 / (double(options.events) / 1e6));
  }
  return figures;
}

// What a refresh of the live view costs the event loop: the first snapshot
// copies every stack, later ones only the totals (no new stacks here).
double time_snapshot(const gotrace::StackAggregator& aggregator, size_t first_new) {
  std::vector<double> micros;
  for (int i = 0; i < 21; ++i) {
    auto s0 = std::chrono::steady_clock::now();
    gotrace::StackSnapshot snapshot = gotrace::take_snapshot(aggregator, first_new);
    micros.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s0).count());
  }
  return median(micros);
}

struct Memory {
  uint64_t rss_before_kib = 0;
  uint64_t max_rss_kib = 0;  // getrusage's, once the rounds are over
};

// The live view's snapshot, in microseconds: with every stack new, then with none.
struct SnapshotTimes {
  double first_us = 0;
  double next_us = 0;
};

SnapshotTimes time_snapshots(const gotrace::StackAggregator& aggregator) {
  return {time_snapshot(aggregator, 0), time_snapshot(aggregator, aggregator.stack_count())};
}

void print_figures(int cpu, const Options& options, const Synthetic& synthetic, const Figures& figures,
                   const Memory& memory, SnapshotTimes exact, SnapshotTimes inuse) {
  const std::vector<double>& rates = figures.rates;
  fmt::print("cpu={}\n", cpu);
  fmt::print("stacks={}\n", options.stacks);
  fmt::print("depth_min={}\ndepth_max={}\ndepth_mean={:.1f}\n", options.min_depth, options.max_depth,
             synthetic.mean_depth);
  fmt::print("zipf={}\n", options.zipf);
  fmt::print("events_per_round={}\nrounds={}\n", options.events, options.rounds);
  fmt::print("cold_events={}\ncold_distinct_stacks={}\n", figures.cold_events, figures.distinct);
  fmt::print("cold_events_per_sec={:.0f}\n", double(figures.cold_events) / figures.cold_wall);
  fmt::print("cold_cpu_ms_per_million={:.2f}\n",
             double(figures.cold_cpu_ns) / 1e6 / (double(figures.cold_events) / 1e6));
  fmt::print("events_per_sec={:.0f}\n", median(rates));
  fmt::print("events_per_sec_min={:.0f}\nevents_per_sec_max={:.0f}\n", *std::min_element(rates.begin(), rates.end()),
             *std::max_element(rates.begin(), rates.end()));
  fmt::print("ns_per_event={:.1f}\n", median(figures.ns_per_event));
  fmt::print("cpu_ms_per_million={:.2f}\n", median(figures.cpu_ms_per_million));
  fmt::print("rss_before_aggregation_kib={}\n", memory.rss_before_kib);
  fmt::print("rss_end_kib={}\n", status_kib("VmRSS"));
  // VmHWM is the kernel's high-water mark of the resident set; ru_maxrss can lag it.
  fmt::print("peak_rss_kib={}\n", std::max<uint64_t>(status_kib("VmHWM"), memory.max_rss_kib));
  fmt::print("live_view_first_snapshot_us={:.0f}\nlive_view_snapshot_us={:.0f}\n", exact.first_us, exact.next_us);
  fmt::print("live_view_inuse_first_snapshot_us={:.0f}\nlive_view_inuse_snapshot_us={:.0f}\n", inuse.first_us,
             inuse.next_us);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (std::optional<int> status = parse_options(argc, argv, &options)) return *status;
  int cpu = options.cpu >= 0 ? options.cpu : sched_getcpu();
  if (!pin_to_cpu(cpu)) return 1;

  Synthetic synthetic = make_records(options);
  Memory memory;
  memory.rss_before_kib = status_kib("VmRSS");

  // The noscan callback the tracer passes reads the type descriptor in the
  // binary; the aggregator caches its answer per type, so any cheap rule does.
  gotrace::StackAggregator aggregator(gotrace::AllocatorModel{true},
                                      [](uint64_t type) { return type == 0 || ((type >> 6) & 3) == 0; });
  Figures figures = run_rounds(aggregator, synthetic, options);

  uint64_t fed = figures.cold_events + uint64_t(options.rounds) * options.events;
  if (aggregator.events() != fed || aggregator.stack_count() != options.stacks) {
    fmt::print(stderr, "consumer_bench: the aggregator saw {} events in {} stacks; fed {} in {}\n", aggregator.events(),
               aggregator.stack_count(), fed, options.stacks);
    return 1;
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  memory.max_rss_kib = uint64_t(usage.ru_maxrss);

  SnapshotTimes exact = time_snapshots(aggregator);
  // A trace that records memory in use hands the view each stack's in-use
  // totals too; the flag is all the copy looks at, so the same stacks do.
  aggregator.set_records_inuse(true);
  SnapshotTimes inuse = time_snapshots(aggregator);
  print_figures(cpu, options, synthetic, figures, memory, exact, inuse);
  return 0;
}
