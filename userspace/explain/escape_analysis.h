// The Go compiler's escape-analysis verdict for the lines of allocation
// sites (`gotrace explain --source DIR`): the binary's main module is
// compiled again from DIR by the binary's own Go release with its recorded
// build settings, with the compiler's optimization log on for the packages
// that hold the sites (compiler_log.h), and the main package linked to a
// temporary binary in the same go build, whose functions are compared with
// the binary's to tell source that is not what the binary was built from.
//
// The result is cached per module and release (escape_cache.h): a second
// run on the same source, binary release, settings and packages runs no go
// command.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "symbolizer/go_binary.h"
#include "userspace/explain/compiler_log.h"

namespace gotrace {

struct SiteFrame {
  // As the pclntab names it ("main.F[go.shape.int]"), or as the runtime prints it ("main.F[...]").
  std::string function;
  std::string file;      // as the pclntab names it
  int line = 0;
};

// The frames at an allocation site's call, innermost first, as
// GoBinary::symbolize gives them (or a profile location's lines): the frame
// that allocates, then those it was inlined into, out to the function the
// code is in. The compiler reports an inlined allocation at the outermost
// line, with the inner ones as where it was inlined from.
struct SiteLine {
  std::vector<SiteFrame> frames;
  static SiteLine from_frames(const std::vector<Frame>& frames);
};

struct EscapeDiagnostic {
  int column = 0;
  std::string code;     // "escape", "escapes", "leak", "iteration-variable-to-heap"
  std::string message;  // e.g. "&Record{...} escapes to heap"
  std::vector<EscapeFlowStep> flow;  // the compiler's explanation; files as under DIR where they are in the module
};

struct EscapeVerdict {
  enum class Status {
    kFound,           // the compiler said something about escapes at the line: `diagnostics`
    // It said nothing about escapes there (e.g. where append grows a slice,
    // which allocates on the heap whatever escapes).
    kNothingAtLine,
    kSourceMismatch,  // the function in DIR is not what the binary was compiled from: `reason`
    kNotInSource,     // the site is not in the main module (the standard library, a dependency): `reason`
    kLogLost,         // the compiler's log of the file was lost (compiler_log.h: same base name): `reason`
  };
  Status status = Status::kNothingAtLine;
  std::string reason;       // for kSourceMismatch, kNotInSource and kLogLost, one line
  std::string source_file;  // the file under DIR the line is in
  // In the compiler's order. For a generic function, those of each of its
  // instantiations at the line: the log does not say which function a
  // diagnostic is in.
  std::vector<EscapeDiagnostic> diagnostics;
};

struct EscapeOptions {
  // Where results are kept; "" for ${XDG_CACHE_HOME:-$HOME/.cache}/gotrace/escape.
  std::string cache_dir;
  // The go command: a path, or a name looked up on PATH. It needs to be Go
  // 1.21 or later to fetch the binary's release, unless it is that release.
  std::string go_command = "go";
};

class EscapeAnalysis {
 public:
  // Compiles (or takes from the cache) the packages of `binary`'s main
  // module that hold `sites` from the module under `source_dir`, and answers
  // for each site. Fails with one line for what stops it altogether: no
  // module in DIR, no go command, a toolchain that cannot be fetched, a
  // build that fails (with the compiler's first error).
  static Result<EscapeAnalysis> run(const GoBinary& binary, const std::string& source_dir,
                                    std::span<const SiteLine> sites, const EscapeOptions& options);

  const EscapeVerdict& verdict(size_t site_index) const { return verdicts_.at(site_index); }
  size_t size() const { return verdicts_.size(); }
  // The module root under DIR the sources were read from.
  const std::string& module_root() const { return module_root_; }
  // Whether the answers came from the cache, without running go.
  bool from_cache() const { return from_cache_; }

 private:
  std::vector<EscapeVerdict> verdicts_;
  std::string module_root_;
  bool from_cache_ = false;
};

// The default cache directory: ${XDG_CACHE_HOME:-$HOME/.cache}/gotrace/escape.
std::string default_escape_cache_dir();

}  // namespace gotrace
