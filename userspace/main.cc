// gotrace: live allocation tracing for Go programs.
//
// main is the only place where an Error becomes text on stderr and an exit
// code (see commands/exit_codes.h).
#include <signal.h>

#include <iostream>

#include <CLI/CLI.hpp>

#include <sys/stat.h>

#include <algorithm>

#include "base/byte_size.h"
#include "base/duration.h"
#include "base/parse_integer.h"
#include "base/percentage.h"
#include "base/text_format.h"
#include "userspace/commands/exit_codes.h"
#include "userspace/commands/help_footer.h"
#include "userspace/commands/explain_command.h"
#include "userspace/commands/info_command.h"
#include "userspace/commands/symbolize_command.h"
#include "userspace/commands/trace_command.h"
#include "userspace/commands/agent_flags.h"
#include "userspace/commands/usage_errors.h"
#include "userspace/trace/trace_options.h"

namespace {

using gotrace::bad_value;
using gotrace::report;

// Process ids are below the kernel's pid_max, which is at most 2^22.
constexpr uint64_t kMostPid = (uint64_t(1) << 22) - 1;
// Far beyond any useful rate, and small enough that the sampling intervals
// (about 9 times the rate at most) stay far inside 64 bits.
constexpr uint64_t kMostSampleRate = uint64_t(1) << 40;

// The options `attach` and `run` share, and the words --help gives them.
struct TraceFlags {
  gotrace::TraceOptions trace;
  bool sample = false;
  std::string sample_rate;
  CLI::Option* sample_rate_option = nullptr;
  std::string max_memory;
  CLI::Option* max_memory_option = nullptr;
  bool heap = false;
  bool exact = false;
  std::string max_overhead;
  CLI::Option* max_overhead_option = nullptr;
  // `attach` guards the target's overhead unless told otherwise; `run` traces exactly.
  gotrace::TraceOptions::Mode default_mode = gotrace::TraceOptions::Mode::kExact;

  void add_to(CLI::App* command) {
    command->add_flag("--heap", heap,
                      "Record only what the runtime's own heap profiler samples (one allocation per "
                      "MemProfileRate bytes, 512 KiB by default) and their frees: near-zero overhead, estimates, "
                      "and in-use memory; needs a program that links runtime/pprof");
    command->add_flag("--exact", exact, "Record every allocation, whatever it costs the program");
    max_overhead_option = command->add_option(
        "--max-overhead", max_overhead,
        "What exact tracing may cost the program, in percent of its own CPU time (default 3): past it gotrace "
        "falls back to --heap (attach's default; for run this turns the guard on)");
    command->add_option("-o,--output", trace.files.pprof_path, "Write a gzipped pprof profile");
    command->add_option("--folded", trace.files.folded_path, "Write folded stacks (flamegraph.pl, inferno, speedscope)");
    command->add_flag("--folded-types", trace.files.folded_types, "End each folded stack with the allocated type, as [type]");
    command->add_flag("--folded-process", trace.files.folded_process,
                      "Start each folded stack with its process, as NAME:PID");
    sample_rate_option = command->add_option(
        "--sample-rate", sample_rate,
        "Record one allocation per BYTES on average, as Go's heap profiler samples; totals are still "
                        "counted for every allocation, and profiles hold scaled estimates");
    command->add_flag("--sample", sample, "The same with Go's default rate, 524288 bytes (512 KiB)");
    command->add_flag("--allow-unverified-go", trace.allow_unverified_release,
                      "Trace a Go release newer than gotrace is verified on, or a binary with an allocation path "
                      "gotrace does not understand (those allocations are not counted)");
    max_memory_option = command->add_option("--max-memory", max_memory,
                        "Bound the memory the distinct stacks take (default 1GiB; e.g. 256MiB): past it the "
                        "coldest stacks are merged into their call sites, and the summary says how many");
    command->add_flag("-v,--verbose", trace.verbose, "Show libbpf's and the BPF verifier's log on stderr");
  }
  // The options as given, or the exit code of a usage error.
  std::optional<int> resolve(gotrace::TraceOptions* options) const {
    *options = trace;
    if (auto usage = resolve_mode(options)) return usage;
    if (sample_rate_option->count() > 0) {
      auto rate = gotrace::parse_decimal(sample_rate, 1, kMostSampleRate);
      if (!rate) return bad_value("--sample-rate", sample_rate, "a number of bytes", rate.error());
      options->sample_rate = *rate;
    } else if (sample) {
      options->sample_rate = gotrace::kDefaultSampleRate;
    }
    // Given empty ("--max-memory ''" from an unset variable) is an error, not the default.
    if (max_memory_option->count() > 0) {
      auto bytes = gotrace::parse_byte_size(max_memory);
      if (bytes && *bytes < gotrace::kMinMaxMemory) bytes = gotrace::Error{"below the smallest, 4MiB"};
      if (!bytes) return bad_value("--max-memory", max_memory, "a memory bound", bytes.error());
      options->max_memory = *bytes;
    }
    return std::nullopt;
  }

  // The mode from --heap, --exact, --sample(-rate) and --max-overhead, which
  // exclude each other: each says how allocations are seen.
  std::optional<int> resolve_mode(gotrace::TraceOptions* options) const {
    bool sampled = sample || sample_rate_option->count() > 0;
    bool guarded = max_overhead_option->count() > 0;
    if (int(heap) + int(exact) + int(sampled) + int(guarded) > 1) {
      std::cerr << "gotrace: error: --heap, --exact, --sample/--sample-rate and --max-overhead exclude each other: "
                   "each says how allocations are seen\n";
      return gotrace::kExitUsage;
    }
    options->mode = heap ? gotrace::TraceOptions::Mode::kHeap
                    : exact || sampled ? gotrace::TraceOptions::Mode::kExact
                    : guarded ? gotrace::TraceOptions::Mode::kGuarded
                    : default_mode;
    if (guarded) {
      auto fraction = gotrace::parse_percentage(max_overhead, 100);
      if (!fraction) return bad_value("--max-overhead", max_overhead, "a percentage", fraction.error());
      options->max_overhead = *fraction;
    }
    return std::nullopt;
  }
};

struct SymbolizeCommand {
  gotrace::SymbolizeOptions options;
  std::vector<std::string> addresses;
  CLI::App* command = nullptr;

  void add_to(CLI::App& app) {
    command = app.add_subcommand(
        "symbolize", "Resolve file addresses of a Go binary to function, file and line (inlined frames expanded)");
    command->add_flag("--json", options.json, "One JSON object per address, one per line");
    command->add_flag("--return-addresses", options.return_addresses,
                      "Addresses are return addresses: look up the call instruction before each");
    command->add_option("BINARY", options.binary, "The Go executable")->required();
    command->add_option("ADDR", addresses, "Addresses in hex, as the file has them (0x4a1b2c)")->required();
  }
  int run() {
    for (const std::string& text : addresses) {
      auto address = gotrace::parse_hexadecimal(text);
      if (!address) return bad_value("ADDR", text, "a hexadecimal address", address.error());
      options.addresses.push_back(*address);
    }
    gotrace::Status status = gotrace::run_symbolize(options, std::cout);
    return status ? gotrace::kExitSuccess : report(status.error());
  }
};

struct AttachCommand {
  gotrace::AttachOptions options;
  TraceFlags flags;
  std::vector<std::string> pids;
  std::string duration;
  CLI::Option* duration_option = nullptr;
  CLI::Option* cgroup_option = nullptr;
  bool no_tui = false;
  CLI::App* command = nullptr;

  void add_to(CLI::App& app) {
    command = app.add_subcommand(
        "attach",
        "Trace the allocations of running Go processes until Ctrl-C, the duration, or their exit: every one while "
        "that costs them at most --max-overhead, else the runtime's heap-profile samples");
    command->add_option("PID", pids, "The processes to trace (a thread id traces its process)");
    command->add_flag("--all", options.all,
                      "Trace every Go process on the host, and each Go program that starts while tracing");
    cgroup_option = command->add_option(
        "--cgroup", options.cgroup,
        "Trace every Go process in a cgroup (v2) and below it, a container's or a systemd unit's "
        "(/sys/fs/cgroup/system.slice/NAME.service, or system.slice/NAME.service), and each that starts in it");
    duration_option = command->add_option("-d,--duration", duration, "How long to trace: 30s, 2m, 1h30m, 500ms");
    flags.default_mode = gotrace::TraceOptions::Mode::kGuarded;
    flags.add_to(command);
    command->add_flag("--no-tui", no_tui,
                      "No live view: print the summary and the top call sites at the end, as when stdout is "
                      "not a terminal");
    // For scripts/bench-overhead.sh: the trap's cost alone. Not in --help.
    command->add_flag("--empty-probe", flags.trace.empty_probe, "")->group("");
  }
  int run() {
    int scopes = int(!pids.empty()) + int(options.all) + int(cgroup_option->count() > 0);
    if (scopes != 1) {
      std::cerr << (scopes == 0 ? "gotrace: error: attach: name the processes to trace: PID..., --all or --cgroup PATH\n"
                                : "gotrace: error: attach: PID..., --all and --cgroup exclude each other: each says "
                                  "which processes to trace\n");
      return gotrace::kExitUsage;
    }
    for (const std::string& pid : pids) {
      auto parsed_pid = gotrace::parse_decimal(pid, 1, kMostPid);
      if (!parsed_pid) return bad_value("PID", pid, "a process id", parsed_pid.error());
      options.pids.push_back(static_cast<int>(*parsed_pid));
    }
    if (duration_option->count() > 0) {
      auto parsed = gotrace::parse_duration(duration);
      if (!parsed) return bad_value("-d/--duration", duration, "a duration", parsed.error());
      options.duration = *parsed;
    }
    if (auto usage = flags.resolve(&options.trace)) return *usage;
    options.trace.live_view = no_tui ? gotrace::TraceOptions::LiveView::kOff : gotrace::TraceOptions::LiveView::kIfTerminal;
    auto code = gotrace::run_attach(options);
    return code ? *code : report(code.error());
  }
};

struct RunCommand {
  gotrace::RunOptions options;
  TraceFlags flags;
  bool tui = false;
  CLI::App* command = nullptr;

  void add_to(CLI::App& app) {
    command = app.add_subcommand(
        "run", "Start a Go program with the probes in place, trace it to its exit, and exit with its status");
    flags.add_to(command);
    command->add_flag("--follow", options.follow,
                      "Trace every Go program the command starts too, directly or further down (a build's "
                      "compilers, a test's binaries), each from its first instruction");
    command->add_flag("--tui", tui,
                      "Show the live view while the program runs; the program's stdin is then /dev/null and its "
                      "output goes to --program-output (or is discarded)");
    command->add_option("--program-output", options.program_output, "Send the program's stdout and stderr to FILE");
    command->add_option("CMD", options.command, "The program and its arguments, after --")->required();
  }
  int run() {
    if (auto usage = flags.resolve(&options.trace)) return *usage;
    if (tui) options.trace.live_view = gotrace::TraceOptions::LiveView::kOn;
    auto code = gotrace::run_traced_command(options);
    return code ? *code : report(code.error());
  }
};

struct InfoCommand {
  gotrace::InfoOptions options;
  CLI::App* command = nullptr;

  void add_to(CLI::App& app) {
    command = app.add_subcommand("info",
                                 "Show Go version, pclntab, build flavour, functions and allocation entry points");
    command->add_flag("--json", options.json, "One JSON object");
    command->add_option("TARGET", options.target, "A Go executable, or the pid of a running Go process")->required();
  }
  int run() {
    // A name of digits only is a process id, unless a file of that name exists.
    bool digits = !options.target.empty() && std::all_of(options.target.begin(), options.target.end(),
                                                         [](char c) { return c >= '0' && c <= '9'; });
    struct stat st;
    if (options.target.empty() || (digits && stat(options.target.c_str(), &st) != 0)) {
      auto pid = gotrace::parse_decimal(options.target, 1, kMostPid);
      if (!pid) return bad_value("TARGET", options.target, "a Go executable or a process id", pid.error());
      options.pid = static_cast<int>(*pid);
    }
    gotrace::Status status = gotrace::run_info(options, std::cout);
    return status ? gotrace::kExitSuccess : report(status.error());
  }
};

struct ExplainCommand {
  gotrace::ExplainOptions options;
  std::vector<std::string> profiles;
  std::string top;
  bool diff = false;
  CLI::App* command = nullptr;

  void add_to(CLI::App& app) {
    command = app.add_subcommand(
        "explain",
        "Why a profile's top call sites allocate: each site's share, types and allocation kinds, the instructions "
        "of its call, the compiler's escape analysis of its line (with --source), and a hint; or, with --diff, "
        "how two profiles' sites changed");
    command->add_option("PROFILE", profiles, "A pprof profile gotrace wrote (-o); two with --diff: BEFORE AFTER")
        ->required();
    command->add_option("--binary", options.binary,
                        "The profiled Go executable, when the path the profile names is gone or another build");
    command->add_option("--source", options.source,
                        "The module the binary was built from, or a directory above it: the compiler's escape "
                        "analysis of each site's line, by the binary's own Go release and build settings");
    command->add_option("--top", top, "How many call sites (default 10)");
    command->add_option("--sample-index", options.sample_index,
                        "Rank sites by this sample type, as go tool pprof's -sample_index (default: the profile's, "
                        "alloc_space for gotrace's): inuse_space, alloc_objects, peak_inuse_space, ...");
    command->add_flag("--diff", diff, "Compare two profiles site by site: BEFORE AFTER");
    command->add_flag("--json", options.json, "One JSON object (README: gotrace explain --json)");
  }
  int run() {
    if (!top.empty()) {
      auto n = gotrace::parse_decimal(top, 1, 1000000);
      if (!n) return bad_value("--top", top, "a number of call sites", n.error());
      options.top = size_t(*n);
    }
    if (diff != (profiles.size() == 2) || profiles.size() > 2) {
      std::cerr << (diff ? "gotrace: error: explain --diff: give two profiles, BEFORE AFTER\n"
                         : "gotrace: error: explain: give one profile (two with --diff)\n");
      return gotrace::kExitUsage;
    }
    if (diff && (!options.binary.empty() || !options.source.empty())) {
      std::cerr << "gotrace: error: explain --diff compares figures only: --binary and --source are not for it\n";
      return gotrace::kExitUsage;
    }
    if (diff) options.diff = profiles;
    else options.profile = profiles.front();
    gotrace::Status status = gotrace::run_explain(options, std::cout);
    return status ? gotrace::kExitSuccess : report(status.error());
  }
};

// CLI11 reads "--duration=", an empty value after '=' (what a script with an
// unset variable writes), as "--duration" with its value still to come, and
// takes the next argument for it. Given as "--duration" "", the value is the
// empty text, and refused as such. Words after "--" are the program's own.
std::vector<std::string> split_empty_assignments(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size() && args[i] != "--"; ++i) {
    if (args[i].size() > 3 && args[i].starts_with("--") && args[i].ends_with("=")) {
      args[i].pop_back();
      args.insert(args.begin() + i + 1, "");
      ++i;
    }
  }
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  // An output whose reader went away (`gotrace ... -o - | head -c1`) is an
  // error of that output (EPIPE), not the end of gotrace and of everything it
  // has not written yet. Blocked rather than ignored: the program `run`
  // starts gets a clear mask, but would inherit an ignored SIGPIPE.
  sigset_t broken_pipe;
  sigemptyset(&broken_pipe);
  sigaddset(&broken_pipe, SIGPIPE);
  sigprocmask(SIG_BLOCK, &broken_pipe, nullptr);
  CLI::App app{"gotrace: see where a running Go program allocates memory"};
  app.footer(gotrace::kFooter);
  app.require_subcommand(1);
  SymbolizeCommand symbolize;
  AttachCommand attach;
  RunCommand run;
  InfoCommand info;
  ExplainCommand explain;
  gotrace::AgentFlags agent;
  symbolize.add_to(app);
  attach.add_to(app);
  run.add_to(app);
  info.add_to(app);
  explain.add_to(app);
  agent.add_to(app);

  std::vector<std::string> args = split_empty_assignments(argc, argv);
  std::vector<char*> arg_pointers;
  for (std::string& arg : args) arg_pointers.push_back(arg.data());
  try {
    app.parse(int(arg_pointers.size()), arg_pointers.data());
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << "gotrace: error: " << e.what() << "\nRun 'gotrace --help' for usage.\n";
    return gotrace::kExitUsage;
  }
  if (symbolize.command->parsed()) return symbolize.run();
  if (attach.command->parsed()) return attach.run();
  if (run.command->parsed()) return run.run();
  if (info.command->parsed()) return info.run();
  if (explain.command->parsed()) return explain.run();
  if (agent.command->parsed()) return agent.run();
  return gotrace::kExitUsage;
}
