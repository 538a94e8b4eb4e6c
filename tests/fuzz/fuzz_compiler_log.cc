// libFuzzer target: the Go compiler's optimization log (-json=0), which
// escape analysis reads from the files the compiler writes
// (userspace/explain/compiler_log.h). The input is one log file's text; it
// is also taken as a file URI.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "userspace/explain/compiler_log.h"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_compiler_log: invariant violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto log = gotrace::parse_compiler_log(text, "fuzz");
  if (log) {
    for (const gotrace::CompilerDiagnostic& diagnostic : log->diagnostics) {
      if (diagnostic.position.line < 0 || diagnostic.position.column < 0) fail("negative position");
      if (diagnostic.position.file != log->file) fail("a diagnostic outside the log's file");
      for (const gotrace::EscapeFlowStep& step : diagnostic.flow)
        if (step.text.starts_with(' ')) fail("a flow step keeps its indentation");
    }
  } else if (log.error().message.empty()) {
    fail("an error without a message");
  }
  if (auto path = gotrace::file_uri_path(text); path && path->size() > text.size()) fail("a decoded URI grew");
  return 0;
}
