#include "userspace/commands/explain_command.h"

#include <map>
#include <set>
#include <memory>

#include "base/text_format.h"
#include "symbolizer/go_binary.h"
#include "symbolizer/process_maps.h"
#include "userspace/explain/allocation_hints.h"
#include "userspace/explain/call_instructions.h"
#include "userspace/explain/escape_analysis.h"
#include "userspace/explain/explanation.h"
#include "userspace/explain/profile_diff.h"
#include "userspace/explain/profile_reader.h"
#include "userspace/explain/profile_sites.h"
#include "userspace/profile/allocation_kind.h"

namespace gotrace {
namespace {

// The call instructions of a site disassembled, the heaviest first: every
// one in practice (a line has a few), bounded for a function inlined at a
// great many places.
constexpr size_t kCallsPerSite = 64;

// The binaries of a profile's mappings, each opened once: the mapping's own
// path, or --binary for the mapping it is the binary of (by build id).
class ProfiledBinaries {
 public:
  ProfiledBinaries(const ReadProfile& profile, std::string flag) : profile_(profile), flag_(std::move(flag)) {}

  // Opens --binary and checks it is the binary of a mapping of the profile.
  Status open_flag() {
    if (flag_.empty()) return Ok{};
    auto binary = GoBinary::open(flag_);
    if (!binary) return binary.error();
    flag_binary_ = std::move(*binary);
    // A mapping without a build id (Go's own profiles record none for a Go
    // executable, which has no GNU one) cannot say otherwise.
    for (const ProfileMapping& mapping : profile_.mappings)
      if (mapping.build_id.empty() || matches(*flag_binary_, mapping)) return Ok{};
    if (profile_.mappings.empty()) return Ok{};
    std::string ids;
    for (const ProfileMapping& mapping : profile_.mappings)
      if (!mapping.build_id.empty()) ids += (ids.empty() ? "" : ", ") + mapping.build_id;
    return make_error("{}: not the profiled binary: its build id {} is not the profile's ({})", quote(flag_),
                      build_id_of(*flag_binary_), ids);
  }

  struct Opened {
    const GoBinary* binary = nullptr;
    std::string unavailable;  // why not, when binary is null
  };
  const Opened& of(std::optional<uint32_t> mapping) {
    uint32_t key = mapping.value_or(UINT32_MAX);
    auto [it, inserted] = opened_.emplace(key, Opened{});
    if (inserted) it->second = open(mapping);
    return it->second;
  }

  // The binary's link-time address of a profiled (runtime) address.
  std::optional<uint64_t> file_address(const GoBinary& binary, std::optional<uint32_t> mapping,
                                       uint64_t address) const {
    if (!mapping || *mapping >= profile_.mappings.size()) return address;
    const ProfileMapping& m = profile_.mappings[*mapping];
    MemoryMapping mapped{m.start, m.limit > m.start ? m.limit : UINT64_MAX, m.file_offset, true, 0, m.file};
    auto bias = AddressTranslator::load_bias_of(mapped, binary.elf());
    if (!bias) return std::nullopt;
    return AddressTranslator(*bias, {mapped}).to_file_vaddr(address);
  }

  // The binaries opened, the first one's Go release for the report.
  std::string go_version() const {
    for (const auto& [key, opened] : opened_)
      if (opened.binary) return opened.binary->build_info().go_version;
    return "";
  }

 private:
  static std::string build_id_of(const GoBinary& binary) {
    return binary.elf().gnu_build_id().empty() ? binary.elf().go_build_id() : binary.elf().gnu_build_id();
  }
  static bool matches(const GoBinary& binary, const ProfileMapping& mapping) {
    return !mapping.build_id.empty() &&
           (mapping.build_id == binary.elf().gnu_build_id() || mapping.build_id == binary.elf().go_build_id());
  }

  Opened open(std::optional<uint32_t> mapping) {
    const ProfileMapping* m = mapping && *mapping < profile_.mappings.size() ? &profile_.mappings[*mapping] : nullptr;
    if (flag_binary_ && (!m || m->build_id.empty() || matches(*flag_binary_, *m))) return {flag_binary_.get(), ""};
    if (!m || m->file.empty()) return {nullptr, "the profile does not name the binary: give it with --binary"};
    auto binary = GoBinary::open(m->file);
    if (!binary) return {nullptr, binary.error().message + ": give the binary with --binary"};
    if (!m->build_id.empty() && !matches(**binary, *m))
      return {nullptr, fmt::format("{} is another build than the one profiled (build id {}, not {}): give the "
                                   "profiled binary with --binary",
                                   quote(m->file), build_id_of(**binary), m->build_id)};
    owned_.push_back(std::move(*binary));
    return {owned_.back().get(), ""};
  }

  const ReadProfile& profile_;
  std::string flag_;
  std::unique_ptr<GoBinary> flag_binary_;
  std::vector<std::unique_ptr<GoBinary>> owned_;
  std::map<uint32_t, Opened> opened_;
};

// Fills `call` with the instructions at the call a profile's location
// `vaddr` (link-time) stands for: gotrace's profiles, as pprof has it, hold
// the call's last byte, the return address - 1; a profile of return
// addresses is read too.
void describe_call(CallDisassembler& disassembler, uint64_t vaddr, ExplainedCall* call) {
  auto code = disassembler.call_instructions(vaddr + 1);
  if (!code) {
    if (auto at_return = disassembler.call_instructions(vaddr)) code = std::move(at_return);
  }
  if (!code) {
    call->unavailable = code.error().message;
    return;
  }
  call->callee = code->callee;
  if (code->type_argument && code->type_argument->type.kind != AllocationType::Kind::kUnknown) {
    call->type_register = code->type_argument->register_name;
    call->type_name = code->type_argument->type.kind == AllocationType::Kind::kUntyped
                          ? "nil (raw memory)"
                          : code->type_argument->type_name;
  }
  for (const DisassembledInstruction& insn : code->instructions)
    call->instructions.push_back({insn.address, insn.file, insn.line, insn.text, insn.is_call});
}

std::string status_name(EscapeVerdict::Status status) {
  switch (status) {
    case EscapeVerdict::Status::kFound: return "found";
    case EscapeVerdict::Status::kNothingAtLine: return "nothing";
    case EscapeVerdict::Status::kSourceMismatch: return "mismatch";
    case EscapeVerdict::Status::kNotInSource: return "not-in-source";
    case EscapeVerdict::Status::kLogLost: return "log-lost";
  }
  return "nothing";
}

ExplainedEscape explained(const EscapeVerdict& verdict) {
  ExplainedEscape out{status_name(verdict.status), verdict.reason, verdict.source_file, {}};
  for (const EscapeDiagnostic& d : verdict.diagnostics) {
    ExplainedDiagnostic diagnostic{d.column, d.message, {}};
    for (const EscapeFlowStep& step : d.flow) diagnostic.flow.push_back(step.text);
    out.diagnostics.push_back(std::move(diagnostic));
  }
  return out;
}

// The compiler's escape analysis of each site's line, from the source in
// `source_dir`, by the binary of the site's heaviest call: one go build per
// binary (or none, from the cache).
Status explain_escapes(const ReadProfile& profile, const std::string& source_dir, ProfiledBinaries& binaries,
                       std::vector<ExplainedSite>& sites) {
  std::map<const GoBinary*, std::vector<size_t>> by_binary;  // sites by the binary they are in
  for (size_t i = 0; i < sites.size(); ++i) {
    if (sites[i].site.locations.empty()) continue;
    const ProfileLocation& leaf = profile.locations[sites[i].site.locations.front().first];
    const GoBinary* binary = binaries.of(leaf.mapping).binary;
    if (binary) by_binary[binary].push_back(i);
    else sites[i].escape = ExplainedEscape{"unavailable", "the binary is not at hand (see the note)", "", {}};
  }
  for (const auto& [binary, indexes] : by_binary) {
    std::vector<SiteLine> lines;
    for (size_t i : indexes) {
      SiteLine line;
      for (const ProfileFrame& frame : profile.locations[sites[i].site.locations.front().first].frames)
        line.frames.push_back({frame.function, frame.file, int(frame.line)});
      lines.push_back(std::move(line));
    }
    auto analysis = EscapeAnalysis::run(*binary, source_dir, lines, EscapeOptions{});
    if (!analysis) return with_context(analysis.error(), "--source " + quote(source_dir));
    for (size_t k = 0; k < indexes.size(); ++k) sites[indexes[k]].escape = explained(analysis->verdict(k));
  }
  return Ok{};
}

Result<ProfileSites> sites_of(const std::string& path, const std::string& sample_index, ReadProfile* read,
                              SampleIndex* index) {
  auto profile = read_profile(path);
  if (!profile) return profile.error();
  auto chosen = choose_sample_index(*profile, sample_index);
  if (!chosen) return with_context(chosen.error(), quote(path));
  *index = *chosen;
  *read = std::move(*profile);
  return profile_sites(*read, *index);
}

Status run_diff(const ExplainOptions& options, std::ostream& out) {
  DiffReport report;
  report.before_path = options.diff[0];
  report.after_path = options.diff[1];
  report.top = options.top;
  ReadProfile before_profile, after_profile;
  SampleIndex after_index;
  auto before = sites_of(report.before_path, options.sample_index, &before_profile, &report.index);
  if (!before) return before.error();
  auto after = sites_of(report.after_path, report.index.name, &after_profile, &after_index);
  if (!after) return after.error();
  report.diff = diff_profiles(*before, *after);
  if (options.json) out << diff_json(report).dump(2) << '\n';
  else out << diff_text(report);
  return Ok{};
}

}  // namespace

Status run_explain(const ExplainOptions& options, std::ostream& out) {
  if (options.diff.size() == 2) return run_diff(options, out);
  ReadProfile profile;
  Explanation e;
  e.profile = options.profile;
  e.source = options.source;
  auto sites = sites_of(options.profile, options.sample_index, &profile, &e.index);
  if (!sites) return sites.error();
  e.total_value = sites->total_value;
  e.total_objects = sites->total_objects;
  e.total_bytes = sites->total_bytes;
  e.site_count = sites->sites.size();

  ProfiledBinaries binaries(profile, options.binary);
  if (Status s = binaries.open_flag(); !s) return s;
  std::set<std::string> unavailable;  // said once in the notes
  std::map<const GoBinary*, std::unique_ptr<CallDisassembler>> disassemblers;
  bool kinds_from_calls = false;
  for (size_t i = 0; i < sites->sites.size() && i < options.top; ++i) {
    ExplainedSite explained;
    explained.site = std::move(sites->sites[i]);
    const ProfileSite& site = explained.site;
    for (size_t c = 0; c < site.locations.size() && c < kCallsPerSite; ++c) {
      auto [location_index, value] = site.locations[c];
      const ProfileLocation& location = profile.locations[location_index];
      ExplainedCall call;
      call.address = location.address;
      call.value = value;
      const auto& opened = binaries.of(location.mapping);
      if (!opened.binary) {
        call.unavailable = "no instructions: the binary is not at hand (see the note)";
        unavailable.insert(opened.unavailable);
      } else if (auto vaddr = binaries.file_address(*opened.binary, location.mapping, location.address); !vaddr) {
        call.unavailable = "the address is outside the profiled binary's text";
      } else {
        auto& disassembler = disassemblers[opened.binary];
        if (!disassembler) disassembler = std::make_unique<CallDisassembler>(*opened.binary);
        describe_call(*disassembler, *vaddr, &call);
      }
      explained.calls.push_back(std::move(call));
    }
    // A profile without gotrace's alloc labels (Go's own) still has the call.
    if (explained.site.kinds.empty()) {
      for (const ExplainedCall& call : explained.calls)
        if (!call.callee.empty())
          explained.site.kinds.emplace_back(allocation_kind(call.callee, call.type_name), call.value);
      if (!explained.site.kinds.empty()) kinds_from_calls = true;
    }
    e.sites.push_back(std::move(explained));
  }
  if (!options.source.empty())
    if (Status s = explain_escapes(profile, options.source, binaries, e.sites); !s) return s;
  for (ExplainedSite& explained : e.sites) {
    std::vector<std::string> compiler_says;
    if (explained.escape)
      for (const ExplainedDiagnostic& d : explained.escape->diagnostics) compiler_says.push_back(d.message);
    const ProfileSite& site = explained.site;
    HintContext hint{site.kinds.empty() ? std::string_view() : std::string_view(site.kinds.front().first),
                     site.objects, site.bytes, compiler_says};
    explained.hint = allocation_hint(hint);
  }
  e.go_version = binaries.go_version();
  for (const std::string& why : unavailable) e.notes.push_back(why);
  if (kinds_from_calls)
    e.notes.push_back("the profile has no alloc labels (not gotrace's): kinds are read from the call instructions");
  if (options.json) out << explanation_json(e).dump(2) << '\n';
  else out << explanation_text(e);
  return Ok{};
}

}  // namespace gotrace
