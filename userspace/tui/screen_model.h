// The live view without a terminal: what is on the screen, line by line, and
// what each key does to it. terminal_view.cc only draws the lines and turns
// keystrokes into Keys, so everything here can be tested as plain text.
//
// The model is fed a SiteTable at each refresh and keeps the previous one:
// a site's rates are the difference of its totals over the time between the
// two. Pausing freezes what is shown while tables keep coming, so the rates
// are right again the moment the display resumes.
//
// The model's code is split by part of the screen: screen_model.cc keeps the
// figures and the state, screen_header.cc, screen_site_list.cc and
// screen_stack_view.cc draw those parts, screen_keys.cc handles the keys and
// draws the footer that names them, and screen_lines.h has what the drawing
// shares.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "userspace/tui/inuse_growth.h"
#include "userspace/tui/site_table.h"

namespace gotrace {

// What the header says about the trace; fixed for its whole life.
struct TraceInfo {
  int pid = 0;
  std::string binary;
  std::string go_version;
  uint64_t sample_rate = 0;  // mean bytes between recorded allocations; 0: every one
  // How the figures are taken, in a few words for the header ("exact",
  // "estimates: heap samples every 512 KiB"); a table's mode_note, when it
  // has one, replaces it. Empty: nothing is said.
  std::string mode{};
};

// In the order of the table's columns, which `<` and `>` walk.
enum class SortColumn { kAllocRate, kByteRate, kAllocs, kBytes, kInuse, kGrowth };

// How a span should look; the terminal maps these to colours or attributes.
enum class Style { kNormal, kTitle, kHeading, kSortedHeading, kSelected, kKey, kAlert, kDim };

struct Span {
  std::string text;
  Style style = Style::kNormal;
};

struct ScreenLine {
  std::vector<Span> spans;
  std::string text() const;
};

// A keystroke, as the model understands it.
struct Key {
  enum Code { kCharacter, kUp, kDown, kPageUp, kPageDown, kHome, kEnd, kEnter, kEscape, kBackspace, kBackTab };
  Code code = kCharacter;
  char32_t character = 0;
  static Key of(char32_t c) { return {kCharacter, c}; }
};

// What a key asks of the caller, beyond redrawing.
enum class Action {
  kNone,
  kQuit,
  kShowStacks,       // the stack view opened: hand it stacks_at(stack_site())
  kIntervalChanged,  // refresh_interval() changed
};

// A site's row: its totals and its rates over the last interval.
struct SiteRow {
  SiteTotals site;
  double alloc_rate = 0;  // per second
  double byte_rate = 0;
  // In-use bytes per second over the last 30 s (InuseGrowth), once there is
  // enough of a trend to tell; never when in-use is not recorded.
  std::optional<double> growth{};
  bool only_grew = false;  // in use grew all through the last 30 s: a leak?
};

class ScreenModel {
 public:
  // `ellipsis` marks cut text: "…" on a UTF-8 terminal.
  explicit ScreenModel(TraceInfo info, std::string ellipsis = "…");

  // A new table; rates are computed against the previous one (against
  // nothing at time 0 for the first).
  void update(const SiteTable& table);
  // The target is gone: the last figures stay, and the header says so.
  void set_target_exited();
  Action press(Key key);

  // The site the stack view shows, while it is open.
  std::optional<uint32_t> stack_site() const;
  // Its heaviest stacks (LiveSites::stacks_at), at most kStacksShown.
  void set_stacks(SiteStacks stacks);
  static constexpr size_t kStacksShown = 50;

  bool paused() const { return paused_; }
  std::chrono::milliseconds refresh_interval() const;
  SortColumn sort() const { return sort_; }
  const std::string& filter() const { return filter_; }
  // The process shown alone (an index into the table's processes), if any:
  // Tab and Shift-Tab cycle through all processes, then each in turn.
  std::optional<uint32_t> process_filter() const { return process_filter_; }
  // The table's rows as shown: filtered, then sorted.
  const std::vector<SiteRow>& rows() const { return rows_; }
  std::optional<uint32_t> selected_site() const { return selected_; }

  // The whole screen: `height` lines of exactly `width` columns each.
  std::vector<ScreenLine> render(int width, int height);

 private:
  // One refresh's figures, with rates.
  struct Figures {
    SiteTable table;
    std::vector<SiteRow> rows;  // every site, unsorted
    double alloc_rate = 0;
    double byte_rate = 0;
    std::optional<double> cpu_share;  // gotrace's CPU time per second of the interval
    std::optional<double> inuse_growth;  // every site together, bytes per second
    std::chrono::nanoseconds growth_span{0};  // the time the growth is measured over
    size_t sites_only_grew = 0;
  };

  // The header's figures: every site's, or under a process filter that
  // process's sites'.
  struct HeaderFigures {
    WeightedTotals totals, inuse;
    double alloc_rate = 0;
    double byte_rate = 0;
    std::optional<double> inuse_growth;
    size_t sites_only_grew = 0;
    ProbeCounts probe_counts{};
  };
  HeaderFigures header_figures() const;
  bool several_processes() const { return shown_.table.processes.size() > 1; }
  void step_process_filter(int direction);
  // The header's first line.
  ScreenLine title_line(size_t width) const;

  void show_latest();
  void arrange_rows();  // filters and sorts shown_.rows into rows_
  void move_selection(int delta);
  void step_interval(int direction);  // to the next longer (+1) or shorter (-1) refresh interval, if any

  Action press_in_list(Key key);
  Action press_in_stacks(Key key);
  Action press_common(Key key);  // keys that work the same in both views
  void edit_filter(Key key);
  ScreenLine footer(size_t width) const;

  std::vector<ScreenLine> header(size_t width) const;
  ScreenLine inuse_line(const HeaderFigures& figures, size_t width) const;
  SortColumn last_sort_column() const;
  std::vector<ScreenLine> list_body(size_t width, size_t height);
  std::vector<ScreenLine> stack_body(size_t width, size_t height);

  TraceInfo info_;
  std::string ellipsis_;
  Figures latest_, shown_;
  std::vector<WeightedTotals> previous_by_site_;
  std::chrono::nanoseconds previous_elapsed_{0};
  std::optional<double> previous_cpu_;
  InuseGrowth growth_;
  std::string mode_note_;  // as the header says it now
  bool target_exited_ = false;
  bool paused_ = false;
  size_t interval_index_;
  SortColumn sort_ = SortColumn::kByteRate;
  std::string filter_;
  bool editing_filter_ = false;
  std::optional<uint32_t> process_filter_;
  std::vector<SiteRow> rows_;
  std::optional<uint32_t> selected_;
  size_t list_top_ = 0;
  int page_ = 10;  // rows in the last rendered page, for PgUp and PgDn
  struct StackView {
    uint32_t site;
    size_t top = 0;  // first line shown
  };
  std::optional<StackView> stack_view_;
  SiteStacks stacks_;
};

// "45s", "3m07s", "2h05m09s"
std::string format_elapsed(std::chrono::nanoseconds elapsed);

}  // namespace gotrace
