#include "userspace/explain/explanation.h"

#include <cstdlib>

#include <fmt/format.h>

#include "base/text_format.h"
#include "userspace/profile/allocation_kind.h"

namespace gotrace {
namespace {

using nlohmann::ordered_json;

// A site's call instructions the text shows, the heaviest: most lines have
// one to three; the JSON has every one.
constexpr size_t kCallsShown = 3;

double percent(int64_t part, int64_t whole) { return whole == 0 ? 0.0 : 100.0 * double(part) / double(whole); }

// "1.1 MiB" for a byte figure, "23" for a count, as the sample index's unit says.
std::string value_text(const SampleIndex& index, int64_t value) {
  bool bytes = index.bytes && *index.bytes == index.value;
  return bytes ? format_bytes(uint64_t(std::max<int64_t>(value, 0))) : fmt::format("{}", value);
}

std::string names_with_shares(const NamedFigures& figures, int64_t whole, size_t most) {
  std::string out;
  for (size_t i = 0; i < figures.size() && i < most; ++i)
    out += fmt::format("{}{} {:.0f}%", i == 0 ? "" : ", ", figures[i].first, percent(figures[i].second, whole));
  if (figures.size() > most) out += fmt::format(", and {} more", figures.size() - most);
  return out;
}

void site_text(const Explanation& e, size_t rank, const ExplainedSite& explained, std::string& out) {
  const ProfileSite& site = explained.site;
  out += fmt::format("\n{}. {}  {}:{}\n", rank, site.function, site.file, site.line);
  out += fmt::format("   {:.1f}% of {}: {}", percent(site.value, e.total_value), e.index.name,
                     value_text(e.index, site.value));
  if (e.index.objects && e.index.bytes && e.index.value == *e.index.bytes)
    out += fmt::format(" in {} allocations ({:.1f}%)", site.objects, percent(site.objects, e.total_objects));
  else if (e.index.bytes && e.index.objects && e.index.value == *e.index.objects)
    out += fmt::format(" allocations, {} ({:.1f}%)", format_bytes(uint64_t(std::max<int64_t>(site.bytes, 0))),
                       percent(site.bytes, e.total_bytes));
  out += "\n";
  if (!site.inlined_into.empty()) {
    out += "   inlined into ";
    for (size_t i = 0; i < site.inlined_into.size(); ++i)
      out += fmt::format("{}{} ({}:{})", i == 0 ? "" : ", into ", site.inlined_into[i].function,
                         file_base_name(site.inlined_into[i].file), site.inlined_into[i].line);
    out += "\n";
  }
  if (!site.types.empty()) out += fmt::format("   types: {}\n", names_with_shares(site.types, site.value, 4));
  if (!site.kinds.empty()) {
    out += fmt::format("   kind: {}", names_with_shares(site.kinds, site.value, 4));
    if (std::string_view words = describe_allocation_kind(site.kinds.front().first); !words.empty())
      out += fmt::format(" ({})", words);
    out += "\n";
  }
  for (size_t c = 0; c < explained.calls.size() && c < kCallsShown; ++c) {
    const ExplainedCall& call = explained.calls[c];
    out += fmt::format("   call returning to 0x{:x}{}{}{}:\n", call.address,
                       call.callee.empty() ? "" : ", of " + call.callee,
                       call.type_name.empty() ? "" : fmt::format(", type {} ({})", call.type_name, call.type_register),
                       explained.calls.size() > 1 ? fmt::format(" ({:.0f}%)", percent(call.value, site.value)) : "");
    if (!call.unavailable.empty()) out += fmt::format("       ({})\n", call.unavailable);
    for (const ExplainedInstruction& insn : call.instructions)
      out += fmt::format("     {} {}:{}\t0x{:x}\t{}\n", insn.is_call ? ">" : " ", file_base_name(insn.file), insn.line,
                         insn.address, insn.text);
  }
  if (explained.calls.size() > kCallsShown)
    out += fmt::format("   and {} more call instructions of this line (--json has every one)\n",
                       explained.calls.size() - kCallsShown);
  if (explained.escape) {
    const ExplainedEscape& escape = *explained.escape;
    std::string where = fmt::format("{}:{}", file_base_name(site.file), site.line);
    if (escape.status == "found") {
      out += fmt::format("   the compiler{} at {}:\n", e.go_version.empty() ? "" : " (" + e.go_version + ")", where);
      for (const ExplainedDiagnostic& d : escape.diagnostics) {
        out += fmt::format("       {}:{}: {}\n", where, d.column, d.message);
        for (const std::string& step : d.flow)
          out += fmt::format("           {}{}\n", step.starts_with("flow:") ? "" : "  ", step);
      }
    } else if (escape.status == "nothing") {
      out += fmt::format("   the compiler says nothing of heap allocation at {}\n", where);
    } else {
      out += fmt::format("   no escape analysis: {}\n", escape.reason);
    }
  }
  if (!explained.hint.empty()) out += fmt::format("   hint: {}\n", explained.hint);
}

ordered_json frame_json(const ProfileFrame& frame) {
  return {{"function", frame.function}, {"file", frame.file}, {"line", frame.line}};
}

ordered_json figures_json(const NamedFigures& figures, std::string_view key) {
  ordered_json out = ordered_json::array();
  for (const auto& [name, value] : figures) out.push_back({{std::string(key), name}, {"value", value}});
  return out;
}

std::string hex(uint64_t address) { return fmt::format("0x{:x}", address); }

ordered_json site_json(size_t rank, const ExplainedSite& explained) {
  const ProfileSite& site = explained.site;
  ordered_json inlined = ordered_json::array();
  for (const ProfileFrame& frame : site.inlined_into) inlined.push_back(frame_json(frame));
  ordered_json kinds = figures_json(site.kinds, "kind");
  for (ordered_json& kind : kinds) kind["description"] = describe_allocation_kind(kind["kind"].get<std::string>());
  ordered_json calls = ordered_json::array();
  for (const ExplainedCall& call : explained.calls) {
    ordered_json instructions = ordered_json::array();
    for (const ExplainedInstruction& insn : call.instructions)
      instructions.push_back({{"address", hex(insn.address)}, {"file", insn.file}, {"line", insn.line},
                              {"text", insn.text}, {"call", insn.is_call}});
    ordered_json entry = {{"return_address", hex(call.address)}, {"value", call.value}, {"callee", call.callee},
                          {"type", call.type_name}, {"type_register", call.type_register},
                          {"instructions", instructions}};
    if (!call.unavailable.empty()) entry["unavailable"] = call.unavailable;
    calls.push_back(std::move(entry));
  }
  ordered_json out = {{"rank", rank},       {"function", site.function}, {"file", site.file},
                      {"line", site.line},  {"inlined_into", inlined},   {"value", site.value},
                      {"objects", site.objects}, {"bytes", site.bytes},
                      {"types", figures_json(site.types, "type")}, {"kinds", kinds}, {"calls", calls}};
  if (explained.escape) {
    const ExplainedEscape& escape = *explained.escape;
    ordered_json diagnostics = ordered_json::array();
    for (const ExplainedDiagnostic& d : escape.diagnostics)
      diagnostics.push_back({{"column", d.column}, {"message", d.message}, {"flow", d.flow}});
    out["escape"] = {{"status", escape.status}, {"reason", escape.reason}, {"source_file", escape.source_file},
                     {"diagnostics", diagnostics}};
  } else {
    out["escape"] = nullptr;
  }
  out["hint"] = explained.hint;
  return out;
}

// "+1.1 MiB", "-23", "0".
std::string signed_text(const SampleIndex& index, int64_t change) {
  std::string magnitude = value_text(index, change < 0 ? -change : change);
  return change == 0 ? magnitude : (change > 0 ? "+" : "-") + magnitude;
}

}  // namespace

std::string explanation_text(const Explanation& e) {
  std::string out = fmt::format("{}: {} of {} sites by {} ({} in all", e.profile, e.sites.size(), e.site_count,
                                e.index.name, value_text(e.index, e.total_value));
  if (e.index.objects && e.index.bytes && e.index.value == *e.index.bytes)
    out += fmt::format(", {} allocations", e.total_objects);
  out += ")\n";
  for (const std::string& note : e.notes) out += fmt::format("note: {}\n", note);
  for (size_t i = 0; i < e.sites.size(); ++i) site_text(e, i + 1, e.sites[i], out);
  return out;
}

ordered_json explanation_json(const Explanation& e) {
  ordered_json sites = ordered_json::array();
  for (size_t i = 0; i < e.sites.size(); ++i) sites.push_back(site_json(i + 1, e.sites[i]));
  return {{"profile", e.profile},
          {"sample_index", e.index.name},
          {"total", {{"value", e.total_value}, {"objects", e.total_objects}, {"bytes", e.total_bytes}}},
          {"site_count", e.site_count},
          {"go_version", e.go_version},
          {"source", e.source},
          {"notes", e.notes},
          {"sites", sites}};
}

std::string diff_text(const DiffReport& report) {
  const ProfileDiff& diff = report.diff;
  const SampleIndex& index = report.index;
  std::string out = fmt::format("{} → {}, by {}: {} → {} ({:+.1f}%)", report.before_path, report.after_path,
                                index.name, value_text(index, diff.before.value), value_text(index, diff.after.value),
                                diff.before.value == 0 ? 0.0 : percent(diff.after.value - diff.before.value,
                                                                        diff.before.value));
  if (index.objects) out += fmt::format("; allocations {} → {}", diff.before.objects, diff.after.objects);
  out += fmt::format("\n{} sites changed, {} the same\n", diff.sites.size(), diff.unchanged);
  if (diff.sites.empty()) return out;
  out += fmt::format("\n{:>12} {:>12} {:>12}  {:>14} {:>12}  {}\n", "BEFORE", "AFTER", "CHANGE", "ALLOCS BEFORE",
                     "AFTER", "CALL SITE");
  for (size_t i = 0; i < diff.sites.size() && i < report.top; ++i) {
    const SiteChange& c = diff.sites[i];
    std::string status = c.gone() ? "  (gone)" : c.added() ? "  (new)" : "";
    out += fmt::format("{:>12} {:>12} {:>12}  {:>14} {:>12}  {} {}:{}{}{}\n", value_text(index, c.before.value),
                       value_text(index, c.after.value), signed_text(index, c.after.value - c.before.value),
                       c.before.objects, c.after.objects, c.function, file_base_name(c.file), c.line,
                       c.kind.empty() ? "" : " " + c.kind, status);
  }
  if (diff.sites.size() > report.top) out += fmt::format("... and {} more\n", diff.sites.size() - report.top);
  return out;
}

ordered_json diff_json(const DiffReport& report) {
  auto figures = [](const SiteFigures& f) {
    return ordered_json{{"value", f.value}, {"objects", f.objects}, {"bytes", f.bytes}};
  };
  ordered_json sites = ordered_json::array();
  for (size_t i = 0; i < report.diff.sites.size() && i < report.top; ++i) {
    const SiteChange& c = report.diff.sites[i];
    sites.push_back({{"function", c.function}, {"file", c.file}, {"line", c.line}, {"kind", c.kind},
                     {"before", figures(c.before)}, {"after", figures(c.after)},
                     {"change", {{"value", c.after.value - c.before.value},
                                 {"objects", c.after.objects - c.before.objects},
                                 {"bytes", c.after.bytes - c.before.bytes}}},
                     {"status", c.gone() ? "gone" : c.added() ? "new" : "changed"}});
  }
  return {{"before", report.before_path}, {"after", report.after_path}, {"sample_index", report.index.name},
          {"total", {{"before", figures(report.diff.before)}, {"after", figures(report.diff.after)}}},
          {"unchanged", report.diff.unchanged}, {"sites", sites}};
}

}  // namespace gotrace
