#include "userspace/commands/symbolize_command.h"

#include <nlohmann/json.hpp>

#include "symbolizer/go_binary.h"

namespace gotrace {

Status run_symbolize(const SymbolizeOptions& options, std::ostream& out) {
  auto binary = GoBinary::open(options.binary);
  if (!binary) return binary.error();
  std::vector<Frame> frames;
  for (uint64_t address : options.addresses) {
    frames.clear();
    const char* failure = (*binary)->symbolize(address, options.return_addresses, &frames);
    std::string addr = fmt::format("0x{:x}", address);
    if (options.json) {
      nlohmann::ordered_json line;
      line["addr"] = addr;
      line["frames"] = nlohmann::ordered_json::array();
      for (const Frame& frame : frames) {
        line["frames"].push_back({{"function", frame.function},
                                  {"file", frame.file},
                                  {"line", frame.line},
                                  {"inlined", frame.inlined}});
      }
      if (failure != nullptr) line["error"] = failure;
      // Names come from an untrusted file: replace invalid UTF-8 rather than fail.
      out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    } else {
      out << addr << '\n';
      if (failure != nullptr) out << "  ?? (" << failure << ")\n";
      for (const Frame& frame : frames) {
        out << fmt::format("  {} at {}:{}{}\n", frame.function, frame.file, frame.line,
                           frame.inlined ? " (inlined)" : "");
      }
    }
  }
  return Ok{};
}

}  // namespace gotrace
