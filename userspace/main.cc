// gotrace: live allocation tracing for Go programs.
//
// main is the only place where an Error becomes text on stderr and an exit
// code (see commands/exit_codes.h).
#include <iostream>

#include <CLI/CLI.hpp>

#include "userspace/commands/exit_codes.h"
#include "userspace/commands/info_command.h"
#include "userspace/commands/symbolize_command.h"

namespace {

constexpr const char* kFooter = R"(Exit status:
  0  success
  1  runtime failure (unreadable or unsupported binary, no such process, ...)
  2  usage error

Examples:
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
  if (info_cmd->parsed()) {
    gotrace::Status status = gotrace::run_info(info, std::cout);
    return status ? gotrace::kExitSuccess : report(status.error());
  }
  return gotrace::kExitUsage;
}
