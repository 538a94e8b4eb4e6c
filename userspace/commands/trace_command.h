// `gotrace attach` and `gotrace run`: trace every allocation of a Go process
// and write what was seen.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace gotrace {

struct TraceOutputs {
  std::string pprof_path;   // -o: gzipped pprof; "" for none
  std::string folded_path;  // --folded; "" for none
  bool folded_types = false;  // --folded-types: the allocated type as the last frame
  // --allow-unverified-go: trace binaries of releases newer than the newest
  // gotrace was verified on, whose allocator may have new entry points, and
  // binaries with allocation paths gotrace does not understand (not probed).
  bool allow_unverified_release = false;
  // Hidden, for the overhead benchmark: attach a program that does nothing.
  bool empty_probe = false;
  // --sample-rate: record one allocation per this many bytes on average (0:
  // record every allocation). --sample uses Go's own default.
  uint64_t sample_rate = 0;
  // The live view on the terminal (userspace/tui): kIfTerminal opens it when
  // stdin and stdout are a terminal; kOn requires one.
  enum class LiveView { kOff, kIfTerminal, kOn };
  LiveView live_view = LiveView::kOff;
};

// Go's default runtime.MemProfileRate, the rate of `--sample`.
inline constexpr uint64_t kDefaultSampleRate = 512 * 1024;

struct AttachOptions {
  int pid = 0;
  std::optional<std::chrono::nanoseconds> duration;
  TraceOutputs outputs;
};

struct RunOptions {
  std::vector<std::string> command;
  TraceOutputs outputs;
  // --program-output: the program's stdout and stderr go to this file. With
  // the live view and no file, they go to /dev/null: the view owns the terminal.
  std::string program_output;
};

// Returns the exit code: 0 after a clean stop (duration, Ctrl-C, SIGTERM or
// the target's exit).
Result<int> run_attach(const AttachOptions& options);
// Returns the exit code of the traced program (128+N when killed by signal N).
Result<int> run_traced_command(const RunOptions& options);


}  // namespace gotrace
