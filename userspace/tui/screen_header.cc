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
ScreenLine ScreenModel::inuse_line(size_t width) const {
  const Figures& f = shown_;
  std::string text = fmt::format("in use {}  ", format_rate_bytes(std::max(0.0, f.table.inuse.bytes)));
  if (f.inuse_growth)
    text += fmt::format("{}/s over {}", format_signed_rate_bytes(*f.inuse_growth), format_elapsed(f.growth_span));
  else
    text += fmt::format("growth shown from {}", format_elapsed(InuseGrowth::kMinSpan));
  std::vector<Span> spans{{text, Style::kNormal}};
  if (f.sites_only_grew > 0) {
    spans.push_back({"  ", Style::kNormal});
    spans.push_back({fmt::format("LEAK? {} site{} only grew for {}", f.sites_only_grew,
                                 f.sites_only_grew == 1 ? "" : "s", format_elapsed(f.growth_span)),
                     Style::kAlert});
  }
  return compose(std::move(spans), {}, width);
}

std::vector<ScreenLine> ScreenModel::header(size_t width) const {
  std::vector<ScreenLine> lines;
  const Figures& f = shown_;

  std::string prefix = fmt::format("gotrace  pid {}  {}  ", info_.pid, info_.go_version);
  std::vector<Span> right{{fmt::format("traced {}", format_elapsed(f.table.elapsed)), Style::kTitle}};
  if (target_exited_ || paused_) {
    right.front().text += "  ";
    right.push_back({target_exited_ ? " EXITED " : " PAUSED ", Style::kAlert});
  }
  size_t used = display_width(prefix) + display_width(right.front().text) + 8 + 1;
  std::string binary = keep_tail(info_.binary, width > used ? width - used : 0, ellipsis_);
  lines.push_back(compose({{prefix + binary, Style::kTitle}}, std::move(right), width, Style::kTitle));

  std::string figures = fmt::format("allocs {}/s  bytes {}/s  total {} allocs, {}", format_count(f.alloc_rate),
                                    format_rate_bytes(f.byte_rate), format_count(std::round(f.table.totals.count)),
                                    format_rate_bytes(f.table.totals.bytes));
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
  if (f.table.records_inuse) lines.push_back(inuse_line(width));

  std::string view = fmt::format("{} sites  sorted by {}", rows_.size(), sort_name(sort_));
  if (!filter_.empty()) view = fmt::format("{} of {} sites match \"{}\"  sorted by {}", rows_.size(),
                                           shown_.rows.size(), filter_, sort_name(sort_));
  lines.push_back(compose({loss_span(f.table.probe_counts),
                           {f.cpu_share ? fmt::format("  gotrace cpu {:.1f}%", 100 * *f.cpu_share) : "  gotrace cpu -",
                            Style::kNormal}},
                          {{view, Style::kNormal}}, width));

  if (target_exited_)
    lines.push_back(compose({{fmt::format("pid {} has exited; these are its last figures. q quits.", info_.pid),
                              Style::kAlert}},
                            {}, width));
  return lines;
}

}  // namespace gotrace
