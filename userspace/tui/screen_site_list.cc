// The list of call sites under the header: a column for each figure, the
// type allocated most and the call site, as wide as the terminal allows, and
// scrolled to keep the selection in view.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "base/text_format.h"
#include "userspace/tui/screen_lines.h"
#include "userspace/tui/screen_model.h"
#include "userspace/tui/text_cells.h"

namespace gotrace {
namespace {

constexpr size_t kGap = 2;  // columns between two table columns

std::string_view base_name(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string site_label(const SiteTotals& site, size_t width, std::string_view ellipsis) {
  // The leaf function first; its file's name and the line when there is
  // room (the stack view has the full path). Width 0 asks for the short form.
  std::string function(site.function);
  if (site.file.empty()) return width == 0 ? function : keep_tail(function, width, ellipsis);
  std::string full = fmt::format("{}  {}:{}", function, base_name(site.file), site.line);
  if (display_width(full) <= width) return full;
  // Lines tell apart two sites of one function when the file does not fit.
  std::string with_line = fmt::format("{}:{}", function, site.line);
  if (width == 0 || display_width(with_line) <= width) return with_line;
  return keep_tail(function, width, ellipsis);
}

// Numbers, right-aligned, each column as wide as its widest cell.
struct NumberColumn {
  const char* heading;
  std::optional<SortColumn> sorts;
  // On a terminal too narrow for every column, the order in which they give
  // way, 1 first; 0 for the columns that stay: the bytes allocated per
  // second and, when recorded, what is in use and how it grows.
  int drop_rank = 0;
  std::vector<std::string> cells{};
  size_t width = 0;
};
using NumberColumns = std::vector<NumberColumn>;

// Columns give way until the type and the call site have this much room.
constexpr size_t kSiteRoom = 32;

std::string growth_cell(const SiteRow& row) {
  if (!row.growth) return "-";
  return (row.only_grew ? "LEAK? " : "") + format_signed_rate_bytes(*row.growth);
}

NumberColumns number_columns(const std::vector<SiteRow>& rows, bool inuse) {
  NumberColumns numbers{{"ALLOCS/s", SortColumn::kAllocRate, 3},
                        {"BYTES/s", SortColumn::kByteRate, 0},
                        {"ALLOCS", SortColumn::kAllocs, 2},
                        {"BYTES", SortColumn::kBytes, 4},
                        {"AVG", std::nullopt, 1}};
  if (inuse) {
    numbers.push_back({"INUSE", SortColumn::kInuse, 0});
    numbers.push_back({"GROWTH/s", SortColumn::kGrowth, 0});
  }
  for (const SiteRow& row : rows) {
    const WeightedTotals& totals = row.site.totals;
    numbers[0].cells.push_back(format_count(row.alloc_rate));
    numbers[1].cells.push_back(format_rate_bytes(row.byte_rate, true));
    numbers[2].cells.push_back(format_count(std::round(totals.count)));
    numbers[3].cells.push_back(format_rate_bytes(totals.bytes, true));
    numbers[4].cells.push_back(totals.count >= 0.5 ? format_rate_bytes(totals.bytes / totals.count, true) : "-");
    if (inuse) {
      numbers[5].cells.push_back(format_rate_bytes(row.site.inuse.bytes, true));
      numbers[6].cells.push_back(growth_cell(row));
    }
  }
  for (NumberColumn& column : numbers) {
    column.width = display_width(column.heading);
    for (const std::string& cell : column.cells) column.width = std::max(column.width, display_width(cell));
  }
  return numbers;
}

size_t total_width(const NumberColumns& numbers) {
  size_t width = 0;
  for (const NumberColumn& column : numbers) width += column.width + kGap;
  return width;
}

// Drops the columns least worth their room, never the one sorted by, until
// the type and the call site have kSiteRoom columns or none may go. `taken`
// columns are the process's.
void fit_columns(NumberColumns* numbers, SortColumn sort, size_t width, size_t taken) {
  while (total_width(*numbers) + taken + kSiteRoom > width) {
    auto first_to_go = numbers->end();
    for (auto it = numbers->begin(); it != numbers->end(); ++it)
      if (it->drop_rank != 0 && it->sorts != sort && (first_to_go == numbers->end() || it->drop_rank < first_to_go->drop_rank))
        first_to_go = it;
    if (first_to_go == numbers->end()) return;
    numbers->erase(first_to_go);
  }
}

// The type column's width, out of the `rest` columns the numbers leave to the
// type and the call site. When both cannot be whole, the split is the one
// that spoils the least, the n-th row weighing 1/n², so that a few rare sites
// at the bottom do not decide for the top ones: a cut type costs 1 (2 when
// the column goes), a site without its file 0.5, a site without its line or
// with a cut name 1.5, and each column lost a little more, to settle ties. On
// a very narrow terminal the type goes (0).
size_t type_column_width(const std::vector<SiteRow>& rows, size_t rest, std::string_view ellipsis) {
  size_t type_width = 4;  // as wide as its heading at least
  for (const SiteRow& row : rows) type_width = std::max(type_width, display_width(row.site.top_type));
  struct Needs {
    size_t type, site_full, site_short;
  };
  std::vector<Needs> needs;
  for (size_t i = 0; i < rows.size() && i < 500; ++i) {
    const SiteTotals& site = rows[i].site;
    needs.push_back({display_width(site.top_type), display_width(site_label(site, SIZE_MAX, ellipsis)),
                     display_width(site_label(site, 0, ellipsis))});
  }
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
  return best ? best->second : 0;
}

// The PROCESS column's cells, "NAME:PID", by row; none where one process is
// shown.
std::vector<std::string> process_cells(const std::vector<SiteRow>& rows, const std::vector<TableProcess>& processes) {
  std::vector<std::string> names;
  for (const TableProcess& process : processes) names.push_back(process_name_and_pid(process));
  std::vector<std::string> cells;
  for (const SiteRow& row : rows) cells.push_back(row.site.process < names.size() ? names[row.site.process] : "?");
  return cells;
}

// The KIND column's width: as wide as its widest kind, up to a limit past
// which a kind is cut (the longest runtime names say little more at their
// end); 0, no column, when no site's stacks say their kind.
size_t kind_column_width(const std::vector<SiteRow>& rows) {
  constexpr size_t kMaxKindWidth = 14;
  size_t widest = 0;
  for (const SiteRow& row : rows) widest = std::max(widest, display_width(row.site.top_kind));
  return widest == 0 ? 0 : std::clamp<size_t>(widest, 4, kMaxKindWidth);
}

ScreenLine heading_line(const NumberColumns& numbers, SortColumn sort, size_t process_width, size_t kind_width,
                        size_t type_width, size_t width) {
  std::vector<Span> heading;
  for (const NumberColumn& column : numbers) {
    bool sorted = column.sorts == sort;
    heading.push_back({pad_left(column.heading, column.width), sorted ? Style::kSortedHeading : Style::kHeading});
    heading.push_back({std::string(kGap, ' '), Style::kHeading});
  }
  if (process_width > 0) heading.push_back({pad_right("PROCESS", process_width + kGap), Style::kHeading});
  if (kind_width > 0) heading.push_back({pad_right("KIND", kind_width + kGap), Style::kHeading});
  if (type_width > 0) heading.push_back({pad_right("TYPE", type_width + kGap), Style::kHeading});
  heading.push_back({"CALL SITE", Style::kHeading});
  return compose(std::move(heading), {}, width, Style::kHeading);
}

}  // namespace

std::vector<ScreenLine> ScreenModel::list_body(size_t width, size_t height) {
  std::vector<ScreenLine> lines;
  size_t rows_room = std::max<size_t>(height, 2) - 1;
  page_ = static_cast<int>(std::max<size_t>(rows_room - 1, 1));

  NumberColumns numbers = number_columns(rows_, shown_.table.records_inuse);
  // Sites are of one process each: which, where several are shown.
  std::vector<std::string> processes;
  size_t process_width = 0;
  if (several_processes() && !process_filter_) {
    processes = process_cells(rows_, shown_.table.processes);
    process_width = display_width("PROCESS");
    for (const std::string& cell : processes) process_width = std::max(process_width, display_width(cell));
  }
  size_t process_room = process_width > 0 ? process_width + kGap : 0;
  // The kind of allocation goes first on a terminal too narrow for it and
  // the columns that stay.
  size_t kind_width = kind_column_width(rows_);
  NumberColumns fitted = numbers;
  fit_columns(&fitted, sort_, width, process_room + kind_width + kGap);
  if (kind_width > 0 && total_width(fitted) + process_room + kind_width + kGap + kSiteRoom > width) kind_width = 0;
  size_t kind_room = kind_width > 0 ? kind_width + kGap : 0;
  if (kind_width > 0) numbers = std::move(fitted);
  else fit_columns(&numbers, sort_, width, process_room);
  size_t numbers_width = total_width(numbers) + process_room + kind_room;
  size_t rest = width > numbers_width ? width - numbers_width : 0;
  size_t type_width = type_column_width(rows_, rest, ellipsis_);
  size_t site_width = rest - (type_width > 0 ? type_width + kGap : 0);
  lines.push_back(heading_line(numbers, sort_, process_width, kind_width, type_width, width));

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
    Style style = i == selected_index ? Style::kSelected : row.only_grew ? Style::kAlert : Style::kNormal;
    std::string text;
    for (const NumberColumn& column : numbers) text += pad_left(column.cells[i], column.width) + std::string(kGap, ' ');
    if (process_width > 0) text += pad_right(processes[i], process_width) + std::string(kGap, ' ');
    if (kind_width > 0)
      text += pad_right(keep_head(row.site.top_kind, kind_width, ellipsis_), kind_width) + std::string(kGap, ' ');
    if (type_width > 0)
      text += pad_right(keep_head(row.site.top_type, type_width, ellipsis_), type_width) + std::string(kGap, ' ');
    text += site_label(row.site, site_width, ellipsis_);
    lines.push_back(compose({{text, style}}, {}, width, style));
  }
  return lines;
}

}  // namespace gotrace
