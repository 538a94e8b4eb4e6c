// gotrace: live allocation tracing for Go programs.
//
// main is the only place where an Error becomes text on stderr and an exit
// code (see commands/exit_codes.h).
#include <signal.h>

#include <iostream>

#include <CLI/CLI.hpp>

#include "base/byte_size.h"
#include "base/duration.h"
#include "userspace/commands/exit_codes.h"
#include "userspace/commands/info_command.h"
#include "userspace/commands/symbolize_command.h"
#include "userspace/commands/trace_command.h"
#include "userspace/trace/trace_options.h"

namespace {

constexpr const char* kFooter = R"(Exit status:
  0  success (for attach: also after Ctrl-C, SIGTERM, the duration, the target's exit or q;
     run exits with the traced program's status, 128+N if a signal N killed it)
  1  runtime failure (unreadable or unsupported binary, no such process,
     missing privileges, an output that cannot be written, ...)
  2  usage error

Tracing needs root, or CAP_BPF with CAP_PERFMON and CAP_SYS_ADMIN. Diagnostics
go to stderr, data to the files named or to stdout.

Live view: on a terminal, attach shows the call sites allocating right now,
refreshed every second, until q or Ctrl-C (run shows it with --tui). Keys:
  q quit (files are written)   a b A B sort by allocs/s, bytes/s, total allocs,
  total bytes   p pause   j k or arrows move   Enter the selected site's stacks
  (Esc back)   / filter by function or file   + - refresh interval

Examples:
  sudo gotrace attach 4242                   live view until q or Ctrl-C; the top call sites at the end
  sudo gotrace attach 4242 -d 30s -o allocs.pb.gz --folded allocs.folded
                                             30 seconds; pprof and flame-graph input
  go tool pprof -top allocs.pb.gz            read the profile with Go's own tools
  sudo gotrace attach 4242 --no-tui | tee top.txt
                                             no live view: the top call sites at the end
  sudo gotrace run -o allocs.pb.gz -- ./server --port 8080
                                             trace a program from its first instruction
  sudo gotrace run --tui --program-output server.log -- ./server
                                             the same with the live view; the program's output to a file
  gotrace info ./server                      what gotrace sees in a binary
  sudo gotrace info 4242                     the same for a running process
  gotrace symbolize ./server 0x4a1b2c        address -> function, file:line (inlined frames first)
  gotrace symbolize --json --return-addresses ./server 0x4a1b31 0x4a2000
)";

// An error of several lines (every output that cannot be written, say) is
// one "gotrace: error:" line each.
void print_error(const gotrace::Error& error) {
  std::string_view rest = error.message;
  do {
    size_t end = rest.find('\n');
    std::cerr << "gotrace: error: " << rest.substr(0, end) << '\n';
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  } while (!rest.empty());
}

int report(const gotrace::Error& error) {
  print_error(error);
  return gotrace::kExitFailure;
}

int usage_error(const gotrace::Error& error) {
  print_error(error);
  return gotrace::kExitUsage;
}

// The options `attach` and `run` share, and the words --help gives them.
struct TraceFlags {
  gotrace::TraceOptions trace;
  bool sample = false;
  std::string max_memory;
  CLI::Option* max_memory_option = nullptr;

  void add_to(CLI::App* command) {
    command->add_option("-o,--output", trace.files.pprof_path, "Write a gzipped pprof profile");
    command->add_option("--folded", trace.files.folded_path, "Write folded stacks (flamegraph.pl, inferno, speedscope)");
    command->add_flag("--folded-types", trace.files.folded_types, "End each folded stack with the allocated type, as [type]");
    command->add_option("--sample-rate", trace.sample_rate,
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
  // The size --max-memory gives, if any.
  gotrace::Status parse_max_memory() {
    // Given empty ("--max-memory ''" from an unset variable) is an error, not the default.
    if (max_memory_option->count() == 0) return gotrace::Ok{};
    auto bytes = gotrace::parse_byte_size(max_memory);
    if (!bytes) return gotrace::make_error("--max-memory {}", bytes.error().message);
    if (*bytes < gotrace::kMinMaxMemory)
      return gotrace::make_error("--max-memory '{}': below the smallest bound, 4MiB", max_memory);
    trace.max_memory = *bytes;
    return gotrace::Ok{};
  }
  gotrace::TraceOptions resolved() const {
    gotrace::TraceOptions options = trace;
    if (sample && options.sample_rate == 0) options.sample_rate = gotrace::kDefaultSampleRate;
    return options;
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
      auto address = gotrace::parse_address(text);
      if (!address) return usage_error(address.error());
      options.addresses.push_back(*address);
    }
    gotrace::Status status = gotrace::run_symbolize(options, std::cout);
    return status ? gotrace::kExitSuccess : report(status.error());
  }
};

struct AttachCommand {
  gotrace::AttachOptions options;
  TraceFlags flags;
  std::string duration;
  bool no_tui = false;
  CLI::App* command = nullptr;

  void add_to(CLI::App& app) {
    command = app.add_subcommand(
        "attach", "Trace every allocation of a running Go process until Ctrl-C, the duration, or its exit");
    command->add_option("PID", options.pid, "The process to trace")->required();
    command->add_option("-d,--duration", duration, "How long to trace: 30s, 2m, 1h30m");
    flags.add_to(command);
    command->add_flag("--no-tui", no_tui,
                      "No live view: print the summary and the top call sites at the end, as when stdout is "
                      "not a terminal");
    // For scripts/bench-overhead.sh: the trap's cost alone. Not in --help.
    command->add_flag("--empty-probe", flags.trace.empty_probe, "")->group("");
  }
  int run() {
    if (gotrace::Status s = flags.parse_max_memory(); !s) return usage_error(s.error());
    options.trace = flags.resolved();
    options.trace.live_view = no_tui ? gotrace::TraceOptions::LiveView::kOff : gotrace::TraceOptions::LiveView::kIfTerminal;
    if (!duration.empty()) {
      auto parsed = gotrace::parse_duration(duration);
      if (!parsed) return usage_error(parsed.error());
      options.duration = *parsed;
    }
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
    command->add_flag("--tui", tui,
                      "Show the live view while the program runs; the program's stdin is then /dev/null and its "
                      "output goes to --program-output (or is discarded)");
    command->add_option("--program-output", options.program_output, "Send the program's stdout and stderr to FILE");
    command->add_option("CMD", options.command, "The program and its arguments, after --")->required();
  }
  int run() {
    if (gotrace::Status s = flags.parse_max_memory(); !s) return usage_error(s.error());
    options.trace = flags.resolved();
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
    gotrace::Status status = gotrace::run_info(options, std::cout);
    return status ? gotrace::kExitSuccess : report(status.error());
  }
};

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
  app.footer(kFooter);
  app.require_subcommand(1);
  SymbolizeCommand symbolize;
  AttachCommand attach;
  RunCommand run;
  InfoCommand info;
  symbolize.add_to(app);
  attach.add_to(app);
  run.add_to(app);
  info.add_to(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << "gotrace: error: " << e.what() << "\nRun 'gotrace --help' for usage.\n";
    return gotrace::kExitUsage;
  }
  if (symbolize.command->parsed()) return symbolize.run();
  if (attach.command->parsed()) return attach.run();
  if (run.command->parsed()) return run.run();
  if (info.command->parsed()) return info.run();
  return gotrace::kExitUsage;
}
