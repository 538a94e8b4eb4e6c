// `gotrace attach` and `gotrace run`: trace every allocation of a Go process
// and write what was seen. The work is done by the session
// (trace/trace_session.h); these two only bring the target to it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "userspace/trace/trace_options.h"
#include "userspace/trace/trace_session.h"

namespace gotrace {

struct AttachOptions {
  std::vector<int> pids;  // the processes named (a thread id names its process)
  bool all = false;       // --all: every Go process on the host, those that start while tracing too
  std::string cgroup;     // --cgroup: every Go process in this cgroup and below it, likewise
  std::optional<std::chrono::nanoseconds> duration;
  TraceOptions trace;
};

struct RunOptions {
  std::vector<std::string> command;
  TraceOptions trace;
  // --program-output: the program's stdout and stderr go to this file. With
  // the live view and no file, they go to /dev/null: the view owns the terminal.
  std::string program_output;
  // --follow: every Go program the command starts, directly or further
  // down, is traced too, each from its first instruction.
  bool follow = false;
};

// The processes (images) `run --follow`, `attach --all` and `attach
// --cgroup` can trace in one run: a large build starts a few thousand
// compiler processes.
inline constexpr uint32_t kMaxFollowedProcesses = 4096;

// The scope of a trace that takes every Go process of the host, or of
// `cgroup` ("" for the host), those that start later too: `attach --all`,
// `attach --cgroup`, the agent. The error names a cgroup that is not one.
Result<SessionScope> discovery_scope(const std::string& cgroup);

// Returns the exit code: 0 after a clean stop (duration, Ctrl-C, SIGTERM or
// the target's exit).
Result<int> run_attach(const AttachOptions& options);
// Returns the exit code of the traced program (128+N when killed by signal N).
Result<int> run_traced_command(const RunOptions& options);

}  // namespace gotrace
