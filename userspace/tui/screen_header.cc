// The lines at the top of the screen: the trace, its figures, what was lost
// and how the list is sorted, and a word when the target has exited.
#include <cmath>
#include <string>

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
  std::vector<Span> sampled;
  if (info_.sample_rate != 0)
    sampled.push_back({fmt::format("estimates: sampled every {}", format_bytes(info_.sample_rate)), Style::kDim});
  lines.push_back(compose({{figures, Style::kNormal}}, sampled, width));

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
