// The model's figures and state: rates from one table to the next, the rows
// as filtered and sorted, the selection, the refresh interval, and the screen
// put together from its parts.
#include "userspace/tui/screen_model.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <tuple>

#include "userspace/tui/screen_lines.h"

namespace gotrace {
namespace {

constexpr std::array<std::chrono::milliseconds, 6> kIntervals{
    std::chrono::milliseconds(250), std::chrono::milliseconds(500), std::chrono::milliseconds(1000),
    std::chrono::milliseconds(2000), std::chrono::milliseconds(5000), std::chrono::milliseconds(10000)};
constexpr size_t kDefaultInterval = 2;  // 1 s, as top

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

ScreenModel::ScreenModel(TraceInfo info, std::string ellipsis)
    : info_(std::move(info)), ellipsis_(std::move(ellipsis)), mode_note_(info_.mode),
      interval_index_(kDefaultInterval) {}

std::chrono::milliseconds ScreenModel::refresh_interval() const { return kIntervals[interval_index_]; }

void ScreenModel::step_interval(int direction) {
  if (direction > 0 && interval_index_ + 1 < kIntervals.size()) ++interval_index_;
  if (direction < 0 && interval_index_ > 0) --interval_index_;
}

void ScreenModel::update(const SiteTable& table) {
  Figures figures;
  figures.table = table;
  double seconds = std::chrono::duration<double>(table.elapsed - previous_elapsed_).count();
  auto rate = [&](double now, double before) { return seconds > 0 ? std::max(0.0, now - before) / seconds : 0.0; };
  growth_.add(table);
  figures.rows.reserve(table.sites.size());
  for (const SiteTotals& site : table.sites) {
    WeightedTotals before = site.id < previous_by_site_.size() ? previous_by_site_[site.id] : WeightedTotals{};
    SiteRow& row = figures.rows.emplace_back(
        SiteRow{site, rate(site.totals.count, before.count), rate(site.totals.bytes, before.bytes)});
    if (table.records_inuse) {
      row.growth = growth_.site_growth(site.id);
      row.only_grew = growth_.site_only_grew(site.id);
      figures.sites_only_grew += row.only_grew;
    }
    figures.alloc_rate += row.alloc_rate;
    figures.byte_rate += row.byte_rate;
  }
  if (table.records_inuse) {
    figures.inuse_growth = growth_.total_growth();
    figures.growth_span = growth_.span();
  }
  if (!table.mode_note.empty()) mode_note_ = table.mode_note;
  // gotrace's CPU time before the first table went into loading the probe
  // and reading the binary: it has no interval to be a share of.
  if (previous_cpu_) figures.cpu_share = rate(table.tracer_cpu_seconds, *previous_cpu_);

  previous_by_site_.clear();
  for (const SiteTotals& site : table.sites) {
    if (site.id >= previous_by_site_.size()) previous_by_site_.resize(site.id + 1);
    previous_by_site_[site.id] = site.totals;
  }
  previous_elapsed_ = table.elapsed;
  previous_cpu_ = table.tracer_cpu_seconds;
  latest_ = std::move(figures);
  if (!paused_) show_latest();
}

void ScreenModel::show_latest() {
  shown_ = latest_;
  if (sort_ > last_sort_column()) sort_ = SortColumn::kByteRate;  // its column is gone
  arrange_rows();
}

void ScreenModel::set_target_exited() { target_exited_ = true; }

void ScreenModel::arrange_rows() {
  rows_.clear();
  std::string needle = lowercase(filter_);
  if (process_filter_ && *process_filter_ >= shown_.table.processes.size()) process_filter_.reset();
  for (const SiteRow& row : shown_.rows) {
    if (process_filter_ && row.site.process != *process_filter_) continue;
    if (!needle.empty() && lowercase(row.site.function).find(needle) == std::string::npos &&
        lowercase(row.site.file).find(needle) == std::string::npos)
      continue;
    rows_.push_back(row);
  }
  auto key = [this](const SiteRow& row) {
    switch (sort_) {
      case SortColumn::kAllocRate: return std::pair{row.alloc_rate, row.byte_rate};
      case SortColumn::kByteRate: return std::pair{row.byte_rate, row.alloc_rate};
      case SortColumn::kAllocs: return std::pair{row.site.totals.count, row.site.totals.bytes};
      case SortColumn::kBytes: return std::pair{row.site.totals.bytes, row.site.totals.count};
      case SortColumn::kInuse: return std::pair{row.site.inuse.bytes, row.growth.value_or(0)};
      case SortColumn::kGrowth: return std::pair{row.growth.value_or(0), row.site.inuse.bytes};
    }
    return std::pair{0.0, 0.0};
  };
  // Ties (idle sites, all at 0/s) fall back to the totals, then to the name,
  // so that rows do not swap places from one refresh to the next.
  std::sort(rows_.begin(), rows_.end(), [&](const SiteRow& a, const SiteRow& b) {
    return std::tuple(key(b), b.site.totals.bytes, a.site.function, a.site.line, a.site.process) <
           std::tuple(key(a), a.site.totals.bytes, b.site.function, b.site.line, b.site.process);
  });
  // The selection follows its site; it falls back to the top row when the
  // site is filtered out.
  bool found = selected_ && std::any_of(rows_.begin(), rows_.end(),
                                        [&](const SiteRow& row) { return row.site.id == *selected_; });
  if (!found) selected_ = rows_.empty() ? std::nullopt : std::optional(rows_.front().site.id);
}

void ScreenModel::step_process_filter(int direction) {
  // All processes (none chosen), then each in turn, and round again.
  int64_t count = static_cast<int64_t>(shown_.table.processes.size());
  if (count < 2) return;
  int64_t at = process_filter_ ? int64_t(*process_filter_) + 1 : 0;  // 0 is all
  at = ((at + direction) % (count + 1) + count + 1) % (count + 1);
  process_filter_ = at == 0 ? std::nullopt : std::optional<uint32_t>(uint32_t(at - 1));
  list_top_ = 0;
  arrange_rows();
}

ScreenModel::HeaderFigures ScreenModel::header_figures() const {
  const Figures& f = shown_;
  if (!process_filter_)
    return {f.table.totals, f.table.inuse, f.alloc_rate, f.byte_rate, f.inuse_growth, f.sites_only_grew,
            f.table.probe_counts};
  // The growth of a sum is the sum of the growths: each is a least-squares
  // slope over the same points.
  HeaderFigures figures;
  figures.probe_counts = f.table.processes[*process_filter_].probe_counts;
  if (f.inuse_growth) figures.inuse_growth = 0;
  for (const SiteRow& row : f.rows) {
    if (row.site.process != *process_filter_) continue;
    figures.totals.add(row.site.totals);
    figures.inuse.add(row.site.inuse);
    figures.alloc_rate += row.alloc_rate;
    figures.byte_rate += row.byte_rate;
    if (figures.inuse_growth && row.growth) *figures.inuse_growth += *row.growth;
    figures.sites_only_grew += row.only_grew;
  }
  return figures;
}

SortColumn ScreenModel::last_sort_column() const {
  return shown_.table.records_inuse ? SortColumn::kGrowth : SortColumn::kBytes;
}

void ScreenModel::move_selection(int delta) {
  if (rows_.empty()) return;
  auto at = std::find_if(rows_.begin(), rows_.end(), [&](const SiteRow& row) { return row.site.id == selected_; });
  int64_t index = at == rows_.end() ? 0 : at - rows_.begin();
  index = std::clamp<int64_t>(index + delta, 0, static_cast<int64_t>(rows_.size()) - 1);
  selected_ = rows_[index].site.id;
}

std::optional<uint32_t> ScreenModel::stack_site() const {
  if (!stack_view_) return std::nullopt;
  return stack_view_->site;
}

void ScreenModel::set_stacks(SiteStacks stacks) { stacks_ = std::move(stacks); }

std::vector<ScreenLine> ScreenModel::render(int width_in, int height_in) {
  size_t width = std::max(width_in, 1), height = std::max(height_in, 1);
  std::vector<ScreenLine> lines;
  if (width < 40 || height < 8) {
    lines.push_back(compose({{"gotrace: the terminal is too small", Style::kAlert}}, {}, width));
    while (lines.size() < height) lines.push_back(blank(width));
    lines.resize(height);
    return lines;
  }
  lines = header(width);
  size_t body_height = height - lines.size() - 1;
  std::vector<ScreenLine> body = stack_view_ ? stack_body(width, body_height) : list_body(width, body_height);
  for (ScreenLine& line : body) lines.push_back(std::move(line));
  while (lines.size() < height - 1) lines.push_back(blank(width));
  lines.push_back(footer(width));
  return lines;
}

}  // namespace gotrace
