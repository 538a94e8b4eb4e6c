#include "userspace/tui/screen_model.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <tuple>

#include <fmt/format.h>

#include "base/text_format.h"
#include "userspace/trace/call_sites.h"
#include "userspace/tui/text_cells.h"

namespace gotrace {
namespace {

constexpr std::array<std::chrono::milliseconds, 6> kIntervals{
    std::chrono::milliseconds(250), std::chrono::milliseconds(500), std::chrono::milliseconds(1000),
    std::chrono::milliseconds(2000), std::chrono::milliseconds(5000), std::chrono::milliseconds(10000)};
constexpr size_t kDefaultInterval = 2;  // 1 s, as top

constexpr size_t kGap = 2;  // columns between two table columns

const char* sort_name(SortColumn column) {
  switch (column) {
    case SortColumn::kAllocRate: return "allocs/s";
    case SortColumn::kByteRate: return "bytes/s";
    case SortColumn::kAllocs: return "total allocs";
    case SortColumn::kBytes: return "total bytes";
  }
  return "";
}

std::string format_interval(std::chrono::milliseconds interval) {
  if (interval.count() % 1000 == 0) return fmt::format("{}s", interval.count() / 1000);
  return fmt::format("{}ms", interval.count());
}

std::string format_rate_bytes(double bytes, bool compact = false) {
  return format_bytes(static_cast<uint64_t>(std::llround(bytes)), compact);
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view base_name(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// A line of `width` columns: `left` from the start, `right` against the end
// when there is room for it, spaces between in `fill`'s style.
ScreenLine compose(std::vector<Span> left, std::vector<Span> right, size_t width, Style fill = Style::kNormal) {
  auto columns = [](const std::vector<Span>& spans) {
    size_t n = 0;
    for (const Span& span : spans) n += display_width(span.text);
    return n;
  };
  size_t right_width = columns(right);
  if (columns(left) + 1 + right_width > width) {
    right.clear();
    right_width = 0;
  }
  ScreenLine line;
  size_t used = 0;
  for (Span& span : left) {
    if (used >= width) break;
    if (used + display_width(span.text) > width) span.text = pad_right(span.text, width - used);
    used += display_width(span.text);
    line.spans.push_back(std::move(span));
  }
  if (used + right_width < width) line.spans.push_back({std::string(width - used - right_width, ' '), fill});
  for (Span& span : right) line.spans.push_back(std::move(span));
  return line;
}

ScreenLine blank(size_t width) { return {{{std::string(width, ' '), Style::kNormal}}}; }

}  // namespace

std::string ScreenLine::text() const {
  std::string out;
  for (const Span& span : spans) out += span.text;
  return out;
}

std::string format_elapsed(std::chrono::nanoseconds elapsed) {
  int64_t seconds = std::chrono::duration_cast<std::chrono::seconds>(elapsed).count();
  if (seconds < 60) return fmt::format("{}s", seconds);
  if (seconds < 3600) return fmt::format("{}m{:02}s", seconds / 60, seconds % 60);
  return fmt::format("{}h{:02}m{:02}s", seconds / 3600, seconds / 60 % 60, seconds % 60);
}

ScreenModel::ScreenModel(TraceInfo info, std::string ellipsis)
    : info_(std::move(info)), ellipsis_(std::move(ellipsis)), interval_index_(kDefaultInterval) {}

std::chrono::milliseconds ScreenModel::refresh_interval() const { return kIntervals[interval_index_]; }

void ScreenModel::update(const SiteTable& table) {
  Figures figures;
  figures.table = table;
  double seconds = std::chrono::duration<double>(table.elapsed - previous_elapsed_).count();
  auto rate = [&](double now, double before) { return seconds > 0 ? std::max(0.0, now - before) / seconds : 0.0; };
  figures.rows.reserve(table.sites.size());
  for (const SiteTotals& site : table.sites) {
    WeightedTotals before = site.id < previous_by_site_.size() ? previous_by_site_[site.id] : WeightedTotals{};
    figures.rows.push_back({site, rate(site.totals.count, before.count), rate(site.totals.bytes, before.bytes)});
    figures.alloc_rate += figures.rows.back().alloc_rate;
    figures.byte_rate += figures.rows.back().byte_rate;
  }
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
  arrange_rows();
}

void ScreenModel::set_target_exited() { target_exited_ = true; }

void ScreenModel::arrange_rows() {
  rows_.clear();
  std::string needle = lowercase(filter_);
  for (const SiteRow& row : shown_.rows) {
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
    }
    return std::pair{0.0, 0.0};
  };
  // Ties (idle sites, all at 0/s) fall back to the totals, then to the name,
  // so that rows do not swap places from one refresh to the next.
  std::sort(rows_.begin(), rows_.end(), [&](const SiteRow& a, const SiteRow& b) {
    return std::tuple(key(b), b.site.totals.bytes, a.site.function, a.site.line) <
           std::tuple(key(a), a.site.totals.bytes, b.site.function, b.site.line);
  });
  // The selection follows its site; it falls back to the top row when the
  // site is filtered out.
  bool found = selected_ && std::any_of(rows_.begin(), rows_.end(),
                                        [&](const SiteRow& row) { return row.site.id == *selected_; });
  if (!found) selected_ = rows_.empty() ? std::nullopt : std::optional(rows_.front().site.id);
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

Action ScreenModel::press(Key key) {
  if (editing_filter_) {
    edit_filter(key);
    return Action::kNone;
  }
  Action common = press_common(key);
  if (common != Action::kNone) return common;
  return stack_view_ ? press_in_stacks(key) : press_in_list(key);
}

Action ScreenModel::press_common(Key key) {
  if (key.code != Key::kCharacter) return Action::kNone;
  switch (key.character) {
    case 'q':
    case 'Q':
      return Action::kQuit;
    case 'p':
    case 'P':
      paused_ = !paused_;
      if (!paused_) show_latest();
      return Action::kNone;
    case '+':
    case '=':
      if (interval_index_ + 1 < kIntervals.size()) ++interval_index_;
      return Action::kIntervalChanged;
    case '-':
    case '_':
      if (interval_index_ > 0) --interval_index_;
      return Action::kIntervalChanged;
  }
  return Action::kNone;
}

Action ScreenModel::press_in_list(Key key) {
  auto sort_by = [&](SortColumn column) {
    sort_ = column;
    arrange_rows();
  };
  switch (key.code) {
    case Key::kUp: move_selection(-1); break;
    case Key::kDown: move_selection(1); break;
    case Key::kPageUp: move_selection(-page_); break;
    case Key::kPageDown: move_selection(page_); break;
    case Key::kHome: move_selection(-static_cast<int>(rows_.size())); break;
    case Key::kEnd: move_selection(static_cast<int>(rows_.size())); break;
    case Key::kEnter:
      if (!selected_) break;
      stack_view_ = StackView{*selected_};
      stacks_ = {};
      return Action::kShowStacks;
    case Key::kEscape:
      filter_.clear();
      arrange_rows();
      break;
    case Key::kBackspace: break;
    case Key::kCharacter:
      switch (key.character) {
        case 'k': move_selection(-1); break;
        case 'j': move_selection(1); break;
        case 'g': move_selection(-static_cast<int>(rows_.size())); break;
        case 'G': move_selection(static_cast<int>(rows_.size())); break;
        case 'a': sort_by(SortColumn::kAllocRate); break;
        case 'b': sort_by(SortColumn::kByteRate); break;
        case 'A': sort_by(SortColumn::kAllocs); break;
        case 'B': sort_by(SortColumn::kBytes); break;
        // < and > walk the sort column across the table, as in top.
        case '<': sort_by(static_cast<SortColumn>(std::max(0, static_cast<int>(sort_) - 1))); break;
        case '>': sort_by(static_cast<SortColumn>(std::min(3, static_cast<int>(sort_) + 1))); break;
        case '/': editing_filter_ = true; break;
        case '\n':
        case '\r': return press_in_list({Key::kEnter, 0});
      }
      break;
  }
  return Action::kNone;
}

Action ScreenModel::press_in_stacks(Key key) {
  size_t& top = stack_view_->top;
  auto scroll = [&](int64_t delta) { top = static_cast<size_t>(std::max<int64_t>(0, static_cast<int64_t>(top) + delta)); };
  switch (key.code) {
    case Key::kEscape: stack_view_.reset(); stacks_ = {}; break;
    case Key::kUp: scroll(-1); break;
    case Key::kDown: scroll(1); break;
    case Key::kPageUp: scroll(-page_); break;
    case Key::kPageDown: scroll(page_); break;
    case Key::kHome: top = 0; break;
    case Key::kEnd: top = SIZE_MAX / 2; break;  // clamped when drawn
    case Key::kCharacter:
      if (key.character == 'k') scroll(-1);
      else if (key.character == 'j') scroll(1);
      else if (key.character == 'h') stack_view_.reset();
      break;
    default: break;
  }
  return Action::kNone;
}

void ScreenModel::edit_filter(Key key) {
  switch (key.code) {
    case Key::kEnter: editing_filter_ = false; return;
    case Key::kEscape: editing_filter_ = false; filter_.clear(); break;
    case Key::kBackspace: filter_ = std::string(drop_last_code_point(filter_)); break;
    case Key::kUp: move_selection(-1); return;
    case Key::kDown: move_selection(1); return;
    case Key::kCharacter:
      if (key.character == '\n' || key.character == '\r') {
        editing_filter_ = false;
        return;
      }
      if (key.character < 0x20 || key.character == 0x7f) return;
      filter_ += utf8(key.character);
      break;
    default: return;
  }
  arrange_rows();
}

// ---- drawing ---------------------------------------------------------------

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

  uint64_t lost = total_dropped(f.table.probe_counts);
  std::string loss_text = "lost 0";
  if (lost > 0) {
    auto cause = [](uint64_t count, std::string_view words) { return fmt::format("{} {}", format_count(count), words); };
    loss_text = fmt::format("lost {}: {}", format_count(lost),
                            join_counted(f.table.probe_counts, CounterKind::kDrop, cause));
  }
  std::string view = fmt::format("{} sites  sorted by {}", rows_.size(), sort_name(sort_));
  if (!filter_.empty()) view = fmt::format("{} of {} sites match \"{}\"  sorted by {}", rows_.size(),
                                           shown_.rows.size(), filter_, sort_name(sort_));
  lines.push_back(compose({{loss_text, lost > 0 ? Style::kAlert : Style::kNormal},
                           {f.cpu_share ? fmt::format("  gotrace cpu {:.1f}%", 100 * *f.cpu_share) : "  gotrace cpu -",
                            Style::kNormal}},
                          {{view, Style::kNormal}}, width));

  if (target_exited_)
    lines.push_back(compose({{fmt::format("pid {} has exited; these are its last figures. q quits.", info_.pid),
                              Style::kAlert}},
                            {}, width));
  return lines;
}

ScreenLine ScreenModel::footer(size_t width) const {
  std::vector<Span> spans;
  if (editing_filter_) {
    spans = {{"Filter: ", Style::kKey}, {filter_ + "_", Style::kNormal}, {"  ", Style::kNormal},
             {"Enter", Style::kKey}, {" Keep  ", Style::kNormal}, {"Esc", Style::kKey}, {" Clear", Style::kNormal}};
    return compose(std::move(spans), {}, width);
  }
  auto key = [&](std::string keys, std::string label) {
    spans.push_back({std::move(keys), Style::kKey});
    spans.push_back({" " + label + "  ", Style::kNormal});
  };
  std::string refresh = "Refresh " + format_interval(refresh_interval());
  if (stack_view_) {
    key("Esc", "Back");
    key("j k", "Scroll");
    key("p", paused_ ? "Resume" : "Pause");
    key("+ -", refresh);
    key("q", "Quit");
  } else {
    key("q", "Quit");
    key("a b A B", "Sort");
    key("p", paused_ ? "Resume" : "Pause");
    key("j k", "Move");
    key("Enter", "Stack");
    key("/", "Filter");
    key("+ -", refresh);
  }
  spans.back().text.resize(spans.back().text.size() - 2);
  return compose(std::move(spans), {}, width);
}

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

std::string ScreenModel::site_label(const SiteTotals& site, size_t width) const {
  // The leaf function first; its file's name and the line when there is
  // room (the stack view has the full path). Width 0 asks for the short form.
  std::string function(site.function);
  if (site.file.empty()) return width == 0 ? function : keep_tail(function, width, ellipsis_);
  std::string full = fmt::format("{}  {}:{}", function, base_name(site.file), site.line);
  if (display_width(full) <= width) return full;
  // Lines tell apart two sites of one function when the file does not fit.
  std::string with_line = fmt::format("{}:{}", function, site.line);
  if (width == 0 || display_width(with_line) <= width) return with_line;
  return keep_tail(function, width, ellipsis_);
}

std::vector<ScreenLine> ScreenModel::list_body(size_t width, size_t height) {
  std::vector<ScreenLine> lines;
  size_t rows_room = std::max<size_t>(height, 2) - 1;
  page_ = static_cast<int>(std::max<size_t>(rows_room - 1, 1));

  // Numbers, right-aligned, each column as wide as its widest cell.
  struct Column {
    const char* heading;
    std::optional<SortColumn> sorts;
    std::vector<std::string> cells;
    size_t width = 0;
  };
  std::array<Column, 5> numbers{{{"ALLOCS/s", SortColumn::kAllocRate, {}},
                                 {"BYTES/s", SortColumn::kByteRate, {}},
                                 {"ALLOCS", SortColumn::kAllocs, {}},
                                 {"BYTES", SortColumn::kBytes, {}},
                                 {"AVG", std::nullopt, {}}}};
  size_t type_width = 4;
  for (const SiteRow& row : rows_) {
    const WeightedTotals& totals = row.site.totals;
    numbers[0].cells.push_back(format_count(row.alloc_rate));
    numbers[1].cells.push_back(format_rate_bytes(row.byte_rate, true));
    numbers[2].cells.push_back(format_count(std::round(totals.count)));
    numbers[3].cells.push_back(format_rate_bytes(totals.bytes, true));
    numbers[4].cells.push_back(totals.count >= 0.5 ? format_rate_bytes(totals.bytes / totals.count, true) : "-");
    type_width = std::max(type_width, display_width(row.site.top_type));
  }
  size_t numbers_width = 0;
  for (Column& column : numbers) {
    column.width = display_width(column.heading);
    for (const std::string& cell : column.cells) column.width = std::max(column.width, display_width(cell));
    numbers_width += column.width + kGap;
  }
  // What is left goes to the type and the call site. When both cannot be
  // whole, the split is the one that spoils the least, the n-th row weighing
  // 1/n², so that a few rare sites at the bottom do not decide for the top
  // ones: a cut type costs 1 (2 when the column goes), a site without its
  // file 0.5, a site without its line or with a cut name 1.5, and each
  // column lost a little more, to settle ties. On a very narrow terminal the
  // type goes.
  size_t rest = width > numbers_width ? width - numbers_width : 0;
  struct Needs {
    size_t type, site_full, site_short;
  };
  std::vector<Needs> needs;
  for (size_t i = 0; i < rows_.size() && i < 500; ++i)
    needs.push_back({display_width(rows_[i].site.top_type), display_width(site_label(rows_[i].site, SIZE_MAX)),
                     display_width(site_label(rows_[i].site, 0))});
  auto spoiled = [&](size_t type) {
    size_t site = rest - (type > 0 ? type + kGap : 0);
    double cost = 0;
    for (size_t i = 0; i < needs.size(); ++i) {
      const Needs& n = needs[i];
      double row = 0;
      if (n.type > type) row += (type == 0 ? 2 : 1) + 0.01 * (n.type - type);
      if (n.site_full > site) row += (n.site_short <= site ? 0.5 : 1.5) + 0.01 * (n.site_full - site);
      cost += row / double((i + 1) * (i + 1));
    }
    return cost;
  };
  size_t type_candidate = std::min<size_t>(type_width, 8);
  std::optional<std::pair<double, size_t>> best;  // (cost, type width); ties go to the wider site
  if (rest >= 16) best = std::pair{spoiled(0), 0};
  for (; type_candidate <= type_width && type_candidate + kGap + 16 <= rest; ++type_candidate) {
    double cost = spoiled(type_candidate);
    if (!best || cost < best->first) best = std::pair{cost, type_candidate};
  }
  type_width = best ? best->second : 0;
  size_t site_width = rest - (type_width > 0 ? type_width + kGap : 0);

  std::vector<Span> heading;
  for (const Column& column : numbers) {
    bool sorted = column.sorts == sort_;
    heading.push_back({pad_left(column.heading, column.width), sorted ? Style::kSortedHeading : Style::kHeading});
    heading.push_back({std::string(kGap, ' '), Style::kHeading});
  }
  if (type_width > 0) heading.push_back({pad_right("TYPE", type_width + kGap), Style::kHeading});
  heading.push_back({"CALL SITE", Style::kHeading});
  lines.push_back(compose(std::move(heading), {}, width, Style::kHeading));

  if (rows_.empty()) {
    std::string why = filter_.empty() ? "no allocations seen yet" : "no call site matches the filter";
    lines.push_back(compose({{why, Style::kDim}}, {}, width));
    return lines;
  }

  // Scroll just enough to keep the selection in view.
  size_t selected_index = 0;
  for (size_t i = 0; i < rows_.size(); ++i)
    if (rows_[i].site.id == selected_) selected_index = i;
  if (selected_index < list_top_) list_top_ = selected_index;
  if (selected_index >= list_top_ + rows_room) list_top_ = selected_index + 1 - rows_room;
  list_top_ = std::min(list_top_, rows_.size() > rows_room ? rows_.size() - rows_room : 0);

  for (size_t i = list_top_; i < rows_.size() && i < list_top_ + rows_room; ++i) {
    const SiteRow& row = rows_[i];
    Style style = i == selected_index ? Style::kSelected : Style::kNormal;
    std::string text;
    for (const Column& column : numbers) text += pad_left(column.cells[i], column.width) + std::string(kGap, ' ');
    if (type_width > 0)
      text += pad_right(keep_head(row.site.top_type, type_width, ellipsis_), type_width) + std::string(kGap, ' ');
    text += site_label(row.site, site_width);
    lines.push_back(compose({{text, style}}, {}, width, style));
  }
  return lines;
}

std::vector<ScreenLine> ScreenModel::stack_body(size_t width, size_t height) {
  std::vector<ScreenLine> lines;
  page_ = static_cast<int>(std::max<size_t>(height, 3) - 2);
  const SiteRow* row = nullptr;
  for (const SiteRow& candidate : shown_.rows)
    if (candidate.site.id == stack_view_->site) row = &candidate;
  if (row == nullptr) {
    lines.push_back(compose({{"this call site is not in the figures", Style::kDim}}, {}, width));
    return lines;
  }
  const SiteTotals& site = row->site;
  std::string location = site.file.empty() ? "" : fmt::format("{}:{}", site.file, site.line);
  lines.push_back(compose({{keep_tail(site.function, width, ellipsis_), Style::kTitle}}, {}, width, Style::kTitle));
  if (!location.empty()) lines.push_back(compose({{"  " + keep_tail(location, width - 2, ellipsis_), Style::kDim}}, {}, width));
  double average = site.totals.count >= 0.5 ? site.totals.bytes / site.totals.count : 0;
  lines.push_back(compose({{fmt::format("  {} allocs/s  {}/s  total {} allocs, {}  avg {}",
                                        format_count(row->alloc_rate), format_rate_bytes(row->byte_rate),
                                        format_count(std::round(site.totals.count)),
                                        format_rate_bytes(site.totals.bytes), format_rate_bytes(average)),
                            Style::kNormal}},
                          {}, width));
  lines.push_back(compose({{fmt::format("  top type {}  {} distinct stack{}", site.top_type, stacks_.count,
                                        stacks_.count == 1 ? "" : "s"),
                            Style::kNormal}},
                          {}, width));
  lines.push_back(blank(width));

  // The stacks, one after the other; they scroll below the site's lines.
  // Shares are of the stacks' own sum: paused, the site's figures above are
  // older than the stacks.
  std::vector<ScreenLine> scrolled;
  const std::vector<SiteStack>& heaviest = stacks_.heaviest;
  size_t function_width = 0;
  for (const SiteStack& stack : heaviest)
    for (const Frame& frame : stack.frames)
      function_width = std::max(function_width, display_width(frame.function) + (frame.inlined ? 10 : 0));
  function_width = std::min(function_width, width * 3 / 5);
  auto share = [&](double bytes) { return stacks_.totals.bytes > 0 ? 100 * bytes / stacks_.totals.bytes : 0; };
  double shown_bytes = 0;
  for (size_t s = 0; s < heaviest.size(); ++s) {
    const SiteStack& stack = heaviest[s];
    shown_bytes += stack.totals.bytes;
    scrolled.push_back(compose({{fmt::format("stack {} of {}: {:.1f}% of the bytes here, {}, {} allocs, {}", s + 1,
                                             stacks_.count, share(stack.totals.bytes), stack.type_name,
                                             format_count(std::round(stack.totals.count)),
                                             format_rate_bytes(stack.totals.bytes)),
                                 Style::kHeading}},
                               {}, width, Style::kHeading));
    for (const Frame& frame : stack.frames) {
      std::vector<Span> spans;
      size_t name_room = function_width - (frame.inlined ? 10 : 0);
      std::string name = keep_tail(frame.function, name_room, ellipsis_);
      spans.push_back({"  " + name, Style::kNormal});
      if (frame.inlined) spans.push_back({" (inlined)", Style::kDim});
      size_t used = 2 + display_width(name) + (frame.inlined ? 10 : 0);
      spans.push_back({std::string(2 + function_width + 2 - used, ' '), Style::kNormal});
      if (!frame.file.empty()) {
        size_t room = width > function_width + 6 ? width - function_width - 6 : 0;
        spans.push_back({keep_tail(fmt::format("{}:{}", frame.file, frame.line), room, ellipsis_), Style::kDim});
      }
      scrolled.push_back(compose(std::move(spans), {}, width));
    }
    if (stack.truncated)
      scrolled.push_back(compose({{fmt::format("  {} deeper frames were not recorded (the probe keeps {})", ellipsis_,
                                               GOTRACE_MAX_STACK_DEPTH),
                                   Style::kDim}},
                                 {}, width));
    scrolled.push_back(blank(width));
  }
  if (stacks_.count > heaviest.size())
    scrolled.push_back(compose({{fmt::format("{} lighter stacks, {:.1f}% of the bytes here, are not shown",
                                             stacks_.count - heaviest.size(),
                                             share(stacks_.totals.bytes - shown_bytes)),
                                 Style::kDim}},
                               {}, width));
  if (stacks_.count == 0) scrolled.push_back(compose({{"symbolizing" + ellipsis_, Style::kDim}}, {}, width));

  size_t room = height > lines.size() ? height - lines.size() : 0;
  size_t& top = stack_view_->top;
  top = std::min(top, scrolled.size() > room ? scrolled.size() - room : 0);
  for (size_t i = top; i < scrolled.size() && i < top + room; ++i) lines.push_back(std::move(scrolled[i]));
  return lines;
}

}  // namespace gotrace
