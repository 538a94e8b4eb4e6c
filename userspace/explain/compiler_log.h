// The Go compiler's optimization log: what `-gcflags=-json=0,file://DIR`
// makes it write, one file per source file of each package compiled
// (DIR/<package>/<file>.json), the same from Go 1.19 to Go 1.27.
//
// Format (cmd/compile/internal/logopt/log_opts.go): a first line with a
// header object {"version":0,"package","goos","goarch","gc_version","file"},
// then one LSP 3.15 Diagnostic object a line: a range (1-based line and
// column), a code ("escape", "escapes", "leak", "nilcheck", "canInlineFunction",
// ...), a message, and relatedInformation: first the positions the
// diagnostic's code was inlined through (message "inlineLoc", outermost
// first), then for escape analysis the lines of the compiler's explanation
// (message "escflow: ..."), each followed by the inlineLoc positions of its
// own. Positions are file URIs: "file:///abs/path.go", or with -trimpath
// "file://module/path/file.go", or "file:" with line 0 where the compiler
// has no position.
//
// The files are untrusted input: every field is checked, and a malformed line
// fails the whole file with its line number.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace gotrace {

struct SourcePosition {
  std::string file;  // as the compiler names it: absolute, or module-relative under -trimpath
  int line = 0;      // 1-based
  int column = 0;    // 1-based, in bytes
  bool operator==(const SourcePosition&) const = default;
};

// One line of the compiler's explanation of an escape, e.g.
// "flow: {heap} ← &{storage for &Record{...}}:" or
// "from sinkRecord = &Record{...} (assign)" at the position it names.
struct EscapeFlowStep {
  std::string text;  // without the "escflow:" tag and the indentation
  SourcePosition position;
  bool operator==(const EscapeFlowStep&) const = default;
};

struct CompilerDiagnostic {
  SourcePosition position;                 // the outermost position: in the function being compiled
  std::vector<SourcePosition> inlined_at;  // where it really is when inlined: outermost first, innermost last
  std::string code;
  std::string message;
  std::vector<EscapeFlowStep> flow;
  bool operator==(const CompilerDiagnostic&) const = default;
};

struct CompilerLogFile {
  std::string package;     // "main" for a main package, else the import path
  std::string gc_version;  // e.g. "go1.21.13"
  std::string file;        // the source file all diagnostics' outermost positions are in
  std::vector<CompilerDiagnostic> diagnostics;
};

// Parses one log file's text; `name` is used in errors.
Result<CompilerLogFile> parse_compiler_log(std::string_view text, std::string_view name);

// Whether a diagnostic's code is escape analysis's: an escape with its
// explanation ("escape", "escapes"), a leaking parameter ("leak"), or a loop
// variable moved to the heap ("iteration-variable-to-heap", Go 1.22+).
bool is_escape_code(std::string_view code);

// The path of a "file://" URI, with %XX escapes decoded ("" for "file:", an
// unknown position); nullopt for another scheme or a bad escape.
std::optional<std::string> file_uri_path(std::string_view uri);

}  // namespace gotrace
