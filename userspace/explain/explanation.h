// What `gotrace explain` tells of a profile's top call sites, read as a
// story per site, and its two forms: text for a terminal, and JSON (one
// object, its fields documented in README.md, stable: fields are added,
// never renamed or removed).
//
// Each site: where it is (function, file:line, the functions it was inlined
// into), its share of the profile, its types and allocation kinds; the
// instructions at each call of the allocator it makes; what the compiler's
// escape analysis says of its line, when the source was given; and a hint
// where the pattern is well known.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "userspace/explain/profile_diff.h"
#include "userspace/explain/profile_sites.h"

namespace gotrace {

struct ExplainedInstruction {
  uint64_t address = 0;  // link-time address in the binary
  std::string file;
  int64_t line = 0;
  std::string text;      // as go tool objdump writes it, symbols named
  bool is_call = false;  // the call the allocation returns to
};

// The code at one of a site's call instructions.
struct ExplainedCall {
  uint64_t address = 0;   // the return address, as profiled (runtime)
  int64_t value = 0;      // the site's value that came from it
  std::string callee;     // the function called, "runtime.growslice"; "" when unknown
  // The type the call is handed, as the code before it says (probe/allocation_types.h):
  // its register ("AX") and name; "" when the callee takes none or the code does not say.
  std::string type_register, type_name;
  std::vector<ExplainedInstruction> instructions;
  std::string unavailable;  // why there are no instructions (no binary, another build, ...); "" when there are
};

struct ExplainedDiagnostic {
  int64_t column = 0;
  std::string message;            // "make([]int, n) escapes to heap"
  std::vector<std::string> flow;  // the compiler's explanation, one step a line
};

// What the compiler said of the site's line.
struct ExplainedEscape {
  // "found": diagnostics at the line; "nothing": none (the compiler had
  // nothing to say of heap allocation there); "mismatch": the source is not
  // what the binary was built from; "not-in-source": the site is not in the
  // given source (the standard library, a dependency); "log-lost": the
  // compiler's log of the file was overwritten (escape_analysis.h);
  // "unavailable": the profiled binary is not at hand.
  std::string status;
  std::string reason;  // for mismatch and not-in-source
  std::string source_file;
  std::vector<ExplainedDiagnostic> diagnostics;
};

struct ExplainedSite {
  ProfileSite site;
  std::vector<ExplainedCall> calls;  // by value, the most first
  std::optional<ExplainedEscape> escape;  // when --source was given
  std::string hint;  // "" when no pattern is known to fit
};

struct Explanation {
  std::string profile;  // the path given
  SampleIndex index;
  int64_t total_value = 0, total_objects = 0, total_bytes = 0;
  size_t site_count = 0;  // every site of the profile
  std::vector<ExplainedSite> sites;  // the top ones
  std::string go_version;  // the profiled binary's, when read
  std::string source;      // --source, when given
  std::vector<std::string> notes;  // what the reader should know of the whole (a binary not found, ...)
};

std::string explanation_text(const Explanation& explanation);
nlohmann::ordered_json explanation_json(const Explanation& explanation);

// `gotrace explain --diff`: the sites that changed, at most `top` of them.
struct DiffReport {
  std::string before_path, after_path;
  SampleIndex index;
  ProfileDiff diff;
  size_t top = 0;
};
std::string diff_text(const DiffReport& report);
nlohmann::ordered_json diff_json(const DiffReport& report);

}  // namespace gotrace
