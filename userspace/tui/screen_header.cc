// The lines at the top of the screen: the trace, its figures, what was lost
// and how the list is sorted, and a word when the target has exited.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/text_format.h"
#include "userspace/probe/probe_counters.h"
#include "userspace/tui/screen_lines.h"
#include "userspace/tui/screen_model.h"
#include "userspace/tui/text_cells.h"

namespace gotrace {
namespace {

const char* sort_name(SortColumn column) {
  switch (column) {
    case SortColumn::kAllocRate: return "allocs/s";
    case SortColumn::kByteRate: return "bytes/s";
    case SortColumn::kAllocs: return "total allocs";
    case SortColumn::kBytes: return "total bytes";
    case SortColumn::kInuse: return "in use";
    case SortColumn::kGrowth: return "growth";
  }
  return "";
}

// "lost 0", or how many allocations are missing from the figures and why, as
// an alert.
Span loss_span(const ProbeCounts& counts) {
  uint64_t lost = total_dropped(counts);
  std::string loss_text = "lost 0";
  if (lost > 0) {
    auto cause = [](uint64_t count, std::string_view words) { return fmt::format("{} {}", format_count(count), words); };
    loss_text = fmt::format("lost {}: {}", format_count(lost), join_counted(counts, CounterKind::kDrop, cause));
  }
  return {std::move(loss_text), lost > 0 ? Style::kAlert : Style::kNormal};
}

}  // namespace

std::string format_elapsed(std::chrono::nanoseconds elapsed) {
  int64_t seconds = std::chrono::duration_cast<std::chrono::seconds>(elapsed).count();
  if (seconds < 60) return fmt::format("{}s", seconds);
  if (seconds < 3600) return fmt::format("{}m{:02}s", seconds / 60, seconds % 60);
  return fmt::format("{}h{:02}m{:02}s", seconds / 3600, seconds / 60 % 60, seconds % 60);
}

// "in use 48.2 MiB  +1.1 MiB/s over 30s  LEAK? 1 site only grew for 30s"
ScreenLine ScreenModel::inuse_line(const HeaderFigures& f, size_t width) const {
  std::string text = fmt::format("in use {}  ", format_rate_bytes(std::max(0.0, f.inuse.bytes)));
  if (f.inuse_growth)
    text += fmt::format("{}/s over {}", format_signed_rate_bytes(*f.inuse_growth), format_elapsed(shown_.growth_span));
  else
    text += fmt::format("growth shown from {}", format_elapsed(InuseGrowth::kMinSpan));
  std::vector<Span> spans{{text, Style::kNormal}};
  if (f.sites_only_grew > 0) {
    spans.push_back({"  ", Style::kNormal});
    spans.push_back({fmt::format("LEAK? {} site{} only grew for {}", f.sites_only_grew,
                                 f.sites_only_grew == 1 ? "" : "s", format_elapsed(shown_.growth_span)),
                     Style::kAlert});
  }
  return compose(std::move(spans), {}, width);
}

// "gotrace  pid 22567  go1.26.8  /tmp/demo/server ... traced 1m11s"; in a
// trace of several processes, how many and how many still run, or the one
// process shown alone and which of how many it is.
ScreenLine ScreenModel::title_line(size_t width) const {
  const std::vector<TableProcess>& processes = shown_.table.processes;
  // No pid: a trace of a host or a cgroup that has no process yet.
  std::string prefix = info_.pid != 0 ? fmt::format("gotrace  pid {}  {}  ", info_.pid, info_.go_version) : "gotrace  ";
  std::string binary = info_.binary;
  bool exited = target_exited_;
  if (several_processes() && !process_filter_) {
    size_t running = std::count_if(processes.begin(), processes.end(), [](const TableProcess& p) { return !p.ended; });
    prefix = fmt::format("gotrace  all {} processes, {} running", processes.size(), running);
    binary.clear();
  } else if (several_processes()) {
    const TableProcess& process = processes[*process_filter_];
    prefix = fmt::format("gotrace  {} ({} of {} processes)  {}  ", process_name_and_pid(process),
                         *process_filter_ + 1, processes.size(), process.go_version);
    binary = process.path;
    exited |= process.ended;
  }
  std::vector<Span> right{{fmt::format("traced {}", format_elapsed(shown_.table.elapsed)), Style::kTitle}};
  if (exited || paused_) {
    right.front().text += "  ";
    right.push_back({exited ? " EXITED " : " PAUSED ", Style::kAlert});
  }
  size_t used = display_width(prefix) + display_width(right.front().text) + 8 + 1;
  binary = keep_tail(binary, width > used ? width - used : 0, ellipsis_);
  return compose({{prefix + binary, Style::kTitle}}, std::move(right), width, Style::kTitle);
}

std::vector<ScreenLine> ScreenModel::header(size_t width) const {
  std::vector<ScreenLine> lines;
  HeaderFigures f = header_figures();
  lines.push_back(title_line(width));

  std::string figures = fmt::format("allocs {}/s  bytes {}/s  total {} allocs, {}", format_count(f.alloc_rate),
                                    format_rate_bytes(f.byte_rate), format_count(std::round(f.totals.count)),
                                    format_rate_bytes(f.totals.bytes));
  // How the figures are taken; said in alert once it is no longer what it
  // was at the start (tracing fell back from exact to heap samples).
  std::vector<std::string> how;
  if (info_.sample_rate != 0) how.push_back(fmt::format("estimates: sampled every {}", format_bytes(info_.sample_rate)));
  if (!mode_note_.empty()) how.push_back(mode_note_);
  std::vector<Span> mode;
  for (std::string& part : how) {
    if (!mode.empty()) mode.push_back({"  ", Style::kNormal});
    mode.push_back({std::move(part), Style::kDim});
  }
  if (mode_note_ != info_.mode) mode.back().style = Style::kAlert;
  // A word on how the figures are taken is worth a line of its own where it
  // does not fit beside them.
  size_t mode_width = 0;
  for (const Span& span : mode) mode_width += display_width(span.text);
  bool mode_fits = mode.empty() || display_width(figures) + 1 + mode_width <= width;
  lines.push_back(compose({{figures, Style::kNormal}}, mode_fits ? mode : std::vector<Span>{}, width));
  if (!mode_fits) lines.push_back(compose(std::move(mode), {}, width));
  if (shown_.table.records_inuse) lines.push_back(inuse_line(f, width));

  std::string view = fmt::format("{} sites  sorted by {}", rows_.size(), sort_name(sort_));
  size_t candidates = process_filter_ ? std::count_if(shown_.rows.begin(), shown_.rows.end(), [&](const SiteRow& row) {
    return row.site.process == *process_filter_;
  })
                                      : shown_.rows.size();
  if (!filter_.empty())
    view = fmt::format("{} of {} sites match \"{}\"  sorted by {}", rows_.size(), candidates, filter_, sort_name(sort_));
  const std::optional<double>& cpu_share = shown_.cpu_share;
  lines.push_back(compose({loss_span(f.probe_counts),
                           {cpu_share ? fmt::format("  gotrace cpu {:.1f}%", 100 * *cpu_share) : "  gotrace cpu -",
                            Style::kNormal}},
                          {{view, Style::kNormal}}, width));

  std::string exited = several_processes() ? "the traced processes have exited; these are their last figures. q quits."
                                           : fmt::format("pid {} has exited; these are its last figures. q quits.", info_.pid);
  if (target_exited_) lines.push_back(compose({{exited, Style::kAlert}}, {}, width));
  return lines;
}

}  // namespace gotrace
