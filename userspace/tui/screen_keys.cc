// What each key does to the model, in the site list, in the stack view and
// while the filter is typed; and the line at the foot that names the keys.
#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "userspace/tui/screen_lines.h"
#include "userspace/tui/screen_model.h"
#include "userspace/tui/text_cells.h"

namespace gotrace {
namespace {

std::string format_interval(std::chrono::milliseconds interval) {
  if (interval.count() % 1000 == 0) return fmt::format("{}s", interval.count() / 1000);
  return fmt::format("{}ms", interval.count());
}

}  // namespace

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
      step_interval(1);
      return Action::kIntervalChanged;
    case '-':
    case '_':
      step_interval(-1);
      return Action::kIntervalChanged;
  }
  return Action::kNone;
}

Action ScreenModel::press_in_list(Key key) {
  auto sort_by = [&](SortColumn column) {
    if (column > last_sort_column()) return;  // no in-use column to sort by
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
    case Key::kBackTab: step_process_filter(-1); break;
    case Key::kCharacter:
      switch (key.character) {
        case '\t': step_process_filter(1); break;
        case 'k': move_selection(-1); break;
        case 'j': move_selection(1); break;
        case 'g': move_selection(-static_cast<int>(rows_.size())); break;
        case 'G': move_selection(static_cast<int>(rows_.size())); break;
        case 'a': sort_by(SortColumn::kAllocRate); break;
        case 'b': sort_by(SortColumn::kByteRate); break;
        case 'A': sort_by(SortColumn::kAllocs); break;
        case 'B': sort_by(SortColumn::kBytes); break;
        case 'i': sort_by(SortColumn::kInuse); break;
        // l for leaks: the sites whose memory in use grows fastest come first.
        case 'l': sort_by(SortColumn::kGrowth); break;
        // < and > walk the sort column across the table, as in top.
        case '<': sort_by(static_cast<SortColumn>(std::max(0, static_cast<int>(sort_) - 1))); break;
        case '>':
          sort_by(static_cast<SortColumn>(std::min(static_cast<int>(last_sort_column()), static_cast<int>(sort_) + 1)));
          break;
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
  auto scroll = [&](int64_t delta) {
    top = static_cast<size_t>(std::max<int64_t>(0, static_cast<int64_t>(top) + delta));
  };
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
    key(shown_.table.records_inuse ? "a b A B i l" : "a b A B", "Sort");
    key("p", paused_ ? "Resume" : "Pause");
    key("j k", "Move");
    key("Enter", "Stack");
    key("/", "Filter");
    if (several_processes()) key("Tab", "Process");
    key("+ -", refresh);
  }
  spans.back().text.resize(spans.back().text.size() - 2);
  // Where the keys do not fit, moving goes unsaid (the arrow keys do it
  // too), and then, beside the process key, the refresh interval's.
  auto width_of = [&] {
    size_t used = 0;
    for (const Span& span : spans) used += display_width(span.text);
    return used;
  };
  for (const char* unsaid : {"j k", "+ -"}) {
    if (width_of() <= width || stack_view_) break;
    if (std::string_view(unsaid) == "+ -" && !several_processes()) break;
    auto keys = std::find_if(spans.begin(), spans.end(), [&](const Span& span) { return span.text == unsaid; });
    if (keys == spans.end()) continue;
    bool last = keys + 2 == spans.end();
    spans.erase(keys, keys + 2);
    if (last) spans.back().text.resize(spans.back().text.size() - 2);
  }
  return compose(std::move(spans), {}, width);
}

}  // namespace gotrace
