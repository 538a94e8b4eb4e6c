// What the user asked of a trace, shared by `attach` and `run`.
#pragma once

#include <cstdint>
#include <string>

#include "userspace/export/trace_outputs.h"

namespace gotrace {

// --max-memory's default: about 5 million distinct stacks of 30 frames.
inline constexpr uint64_t kDefaultMaxMemory = uint64_t(1) << 30;
// The smallest --max-memory: below it, a stack's call site is all a trace
// could keep of a busy program.
inline constexpr uint64_t kMinMaxMemory = uint64_t(4) << 20;

// --max-overhead's default: what the overhead guard lets exact tracing cost
// the target, as a fraction of the target's own CPU time.
inline constexpr double kDefaultMaxOverhead = 0.03;

struct TraceOptions {
  OutputFiles files;  // -o, --folded, --folded-types
  // How allocations are seen.
  enum class Mode {
    kExact,    // --exact (`run`'s default): a probe on every allocation (or gotrace's sampling, --sample-rate)
    kHeap,     // --heap: the runtime's own heap-profile samples and their frees only
    kGuarded,  // `attach`'s default: exact while it costs the target at most max_overhead, then as kHeap
  };
  Mode mode = Mode::kExact;
  double max_overhead = kDefaultMaxOverhead;  // --max-overhead, as a fraction
  // --allow-unverified-go: trace binaries of releases newer than the newest
  // gotrace was verified on, whose allocator may have new entry points, and
  // binaries with allocation paths gotrace does not understand (not probed).
  bool allow_unverified_release = false;
  // Hidden, for the overhead benchmark: attach a program that does nothing.
  bool empty_probe = false;
  // --sample-rate: record one allocation per this many bytes on average (0:
  // record every allocation). --sample uses Go's own default.
  uint64_t sample_rate = 0;
  // --max-memory: the bound on what aggregation holds, in bytes (see
  // profile/aggregator.h); past it the coldest stacks are merged.
  uint64_t max_memory = kDefaultMaxMemory;
  // The agent's guard: each process's cost is measured on its own
  // (trace/process_cost.h), and a process that tracing costs more than
  // max_overhead is no longer traced. For the heap profiler's probes.
  bool guard_each_process = false;
  // -v: libbpf's and the verifier's log on stderr.
  bool verbose = false;
  // The live view on the terminal (userspace/tui): kIfTerminal opens it when
  // stdin and stdout are a terminal; kOn requires one.
  enum class LiveView { kOff, kIfTerminal, kOn };
  LiveView live_view = LiveView::kOff;
};

// Go's default runtime.MemProfileRate, the rate of `--sample`.
inline constexpr uint64_t kDefaultSampleRate = 512 * 1024;

}  // namespace gotrace
