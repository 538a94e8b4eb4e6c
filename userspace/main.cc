// gotrace: live allocation tracing for Go programs.
//
// main is the only place where an Error becomes text on stderr and an exit
// code (see commands/exit_codes.h).
#include <iostream>

#include <CLI/CLI.hpp>

#include "base/duration.h"
#include "userspace/commands/exit_codes.h"
#include "userspace/commands/info_command.h"
#include "userspace/commands/symbolize_command.h"
#include "userspace/commands/trace_command.h"

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

int report(const gotrace::Error& error) {
  std::cerr << "gotrace: error: " << error.message << '\n';
  return gotrace::kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gotrace: see where a running Go program allocates memory"};
  app.footer(kFooter);
  app.require_subcommand(1);

  gotrace::SymbolizeOptions symbolize;
  std::vector<std::string> addresses;
  CLI::App* symbolize_cmd = app.add_subcommand(
      "symbolize", "Resolve file addresses of a Go binary to function, file and line (inlined frames expanded)");
  symbolize_cmd->add_flag("--json", symbolize.json, "One JSON object per address, one per line");
  symbolize_cmd->add_flag("--return-addresses", symbolize.return_addresses,
                          "Addresses are return addresses: look up the call instruction before each");
  symbolize_cmd->add_option("BINARY", symbolize.binary, "The Go executable")->required();
  symbolize_cmd->add_option("ADDR", addresses, "Addresses in hex, as the file has them (0x4a1b2c)")->required();

  gotrace::AttachOptions attach;
  std::string duration_text;
  CLI::App* attach_cmd = app.add_subcommand(
      "attach", "Trace every allocation of a running Go process until Ctrl-C, the duration, or its exit");
  attach_cmd->add_option("PID", attach.pid, "The process to trace")->required();
  attach_cmd->add_option("-d,--duration", duration_text, "How long to trace: 30s, 2m, 1h30m");
  attach_cmd->add_option("-o,--output", attach.outputs.pprof_path, "Write a gzipped pprof profile");
  attach_cmd->add_option("--folded", attach.outputs.folded_path, "Write folded stacks (flamegraph.pl, inferno, speedscope)");
  attach_cmd->add_flag("--folded-types", attach.outputs.folded_types, "End each folded stack with the allocated type, as [type]");
  bool attach_sample = false;
  attach_cmd->add_option("--sample-rate", attach.outputs.sample_rate,
                    "Record one allocation per BYTES on average, as Go's heap profiler samples; totals are still "
                    "counted for every allocation, and profiles hold scaled estimates");
  attach_cmd->add_flag("--sample", attach_sample, "The same with Go's default rate, 524288 bytes (512 KiB)");
  attach_cmd->add_flag("--allow-unverified-go", attach.outputs.allow_unverified_release,
                       "Trace a Go release newer than gotrace is verified on, or a binary with an allocation path "
                    "gotrace does not understand (those allocations are not counted)");
  bool attach_no_tui = false;
  attach_cmd->add_flag("--no-tui", attach_no_tui,
                       "No live view: print the summary and the top call sites at the end, as when stdout is "
                       "not a terminal");
  // For scripts/bench-overhead.sh: the trap's cost alone. Not in --help.
  attach_cmd->add_flag("--empty-probe", attach.outputs.empty_probe, "")->group("");

  gotrace::RunOptions run;
  CLI::App* run_cmd = app.add_subcommand(
      "run", "Start a Go program with the probes in place, trace it to its exit, and exit with its status");
  run_cmd->add_option("-o,--output", run.outputs.pprof_path, "Write a gzipped pprof profile");
  run_cmd->add_option("--folded", run.outputs.folded_path, "Write folded stacks (flamegraph.pl, inferno, speedscope)");
  run_cmd->add_flag("--folded-types", run.outputs.folded_types, "End each folded stack with the allocated type, as [type]");
  bool run_sample = false;
  run_cmd->add_option("--sample-rate", run.outputs.sample_rate,
                    "Record one allocation per BYTES on average, as Go's heap profiler samples; totals are still "
                    "counted for every allocation, and profiles hold scaled estimates");
  run_cmd->add_flag("--sample", run_sample, "The same with Go's default rate, 524288 bytes (512 KiB)");
  run_cmd->add_flag("--allow-unverified-go", run.outputs.allow_unverified_release,
                    "Trace a Go release newer than gotrace is verified on, or a binary with an allocation path "
                    "gotrace does not understand (those allocations are not counted)");
  bool run_tui = false;
  run_cmd->add_flag("--tui", run_tui,
                    "Show the live view while the program runs; the program's stdin is then /dev/null and its "
                    "output goes to --program-output (or is discarded)");
  run_cmd->add_option("--program-output", run.program_output, "Send the program's stdout and stderr to FILE");
  run_cmd->add_option("CMD", run.command, "The program and its arguments, after --")->required();

  gotrace::InfoOptions info;
  CLI::App* info_cmd = app.add_subcommand(
      "info", "Show Go version, pclntab, build flavour, functions and allocation entry points");
  info_cmd->add_flag("--json", info.json, "One JSON object");
  info_cmd->add_option("TARGET", info.target, "A Go executable, or the pid of a running Go process")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << "gotrace: error: " << e.what() << "\nRun 'gotrace --help' for usage.\n";
    return gotrace::kExitUsage;
  }

  if (symbolize_cmd->parsed()) {
    for (const std::string& text : addresses) {
      auto address = gotrace::parse_address(text);
      if (!address) {
        std::cerr << "gotrace: error: " << address.error().message << "\n";
        return gotrace::kExitUsage;
      }
      symbolize.addresses.push_back(*address);
    }
    gotrace::Status status = gotrace::run_symbolize(symbolize, std::cout);
    return status ? gotrace::kExitSuccess : report(status.error());
  }
  if (attach_sample && attach.outputs.sample_rate == 0) attach.outputs.sample_rate = gotrace::kDefaultSampleRate;
  if (run_sample && run.outputs.sample_rate == 0) run.outputs.sample_rate = gotrace::kDefaultSampleRate;
  attach.outputs.live_view = attach_no_tui ? gotrace::TraceOutputs::LiveView::kOff
                                           : gotrace::TraceOutputs::LiveView::kIfTerminal;
  if (run_tui) run.outputs.live_view = gotrace::TraceOutputs::LiveView::kOn;
  if (attach_cmd->parsed()) {
    if (!duration_text.empty()) {
      auto duration = gotrace::parse_duration(duration_text);
      if (!duration) {
        std::cerr << "gotrace: error: " << duration.error().message << "\n";
        return gotrace::kExitUsage;
      }
      attach.duration = *duration;
    }
    auto code = gotrace::run_attach(attach);
    return code ? *code : report(code.error());
  }
  if (run_cmd->parsed()) {
    auto code = gotrace::run_traced_command(run);
    return code ? *code : report(code.error());
  }
  if (info_cmd->parsed()) {
    gotrace::Status status = gotrace::run_info(info, std::cout);
    return status ? gotrace::kExitSuccess : report(status.error());
  }
  return gotrace::kExitUsage;
}
