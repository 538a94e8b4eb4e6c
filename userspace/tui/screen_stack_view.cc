// The stack view, opened on a call site: the site's figures, then its
// heaviest stacks frame by frame, which scroll below them.
#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "base/text_format.h"
#include "bpf/gotrace_abi.h"
#include "userspace/profile/allocation_kind.h"
#include "userspace/tui/screen_lines.h"
#include "userspace/tui/screen_model.h"
#include "userspace/tui/text_cells.h"

namespace gotrace {
namespace {

// "  kind growslice (append growing a slice)", or nothing where the stacks do not say.
std::string kind_words(std::string_view kind) {
  if (kind.empty()) return "";
  std::string_view words = describe_allocation_kind(kind);
  return words.empty() ? fmt::format("  kind {}", kind) : fmt::format("  kind {} ({})", kind, words);
}


constexpr size_t kInlinedMark = 10;  // the columns " (inlined)" takes

// The lines that stay put above the stacks.
// `process` names the site's process in a trace of several ("" in one of one).
std::vector<ScreenLine> site_lines(const SiteRow& row, const std::string& process, size_t stack_count, size_t width,
                                   const std::string& ellipsis) {
  std::vector<ScreenLine> lines;
  const SiteTotals& site = row.site;
  std::string location = site.file.empty() ? "" : fmt::format("{}:{}", site.file, site.line);
  lines.push_back(compose({{keep_tail(site.function, width, ellipsis), Style::kTitle}}, {}, width, Style::kTitle));
  if (!location.empty())
    lines.push_back(compose({{"  " + keep_tail(location, width - 2, ellipsis), Style::kDim}}, {}, width));
  double average = site.totals.count >= 0.5 ? site.totals.bytes / site.totals.count : 0;
  lines.push_back(compose({{fmt::format("  {} allocs/s  {}/s  total {} allocs, {}  avg {}",
                                        format_count(row.alloc_rate), format_rate_bytes(row.byte_rate),
                                        format_count(std::round(site.totals.count)),
                                        format_rate_bytes(site.totals.bytes), format_rate_bytes(average)),
                            Style::kNormal}},
                          {}, width));
  lines.push_back(compose({{fmt::format("  top type {}{}  {} distinct stack{}{}", site.top_type,
                                        kind_words(site.top_kind),
                                        stack_count, stack_count == 1 ? "" : "s",
                                        process.empty() ? "" : "  process " + process),
                            Style::kNormal}},
                          {}, width));
  lines.push_back(blank(width));
  return lines;
}

// A frame: its function in the first `function_width` columns, its file and
// line after.
ScreenLine frame_line(const Frame& frame, size_t function_width, size_t width, const std::string& ellipsis) {
  size_t mark = frame.inlined ? kInlinedMark : 0;
  std::vector<Span> spans;
  std::string name = keep_tail(frame.function, function_width - mark, ellipsis);
  spans.push_back({"  " + name, Style::kNormal});
  if (frame.inlined) spans.push_back({" (inlined)", Style::kDim});
  size_t used = 2 + display_width(name) + mark;
  spans.push_back({std::string(2 + function_width + 2 - used, ' '), Style::kNormal});
  if (!frame.file.empty()) {
    size_t room = width > function_width + 6 ? width - function_width - 6 : 0;
    spans.push_back({keep_tail(fmt::format("{}:{}", frame.file, frame.line), room, ellipsis), Style::kDim});
  }
  return compose(std::move(spans), {}, width);
}

// The stacks, one after the other. Shares are of the stacks' own sum:
// paused, the site's figures above are older than the stacks.
std::vector<ScreenLine> stack_lines(const SiteStacks& stacks, size_t width, const std::string& ellipsis) {
  std::vector<ScreenLine> lines;
  const std::vector<SiteStack>& heaviest = stacks.heaviest;
  size_t function_width = 0;
  for (const SiteStack& stack : heaviest)
    for (const Frame& frame : stack.frames)
      function_width = std::max(function_width, display_width(frame.function) + (frame.inlined ? kInlinedMark : 0));
  function_width = std::min(function_width, width * 3 / 5);
  auto share = [&](double bytes) { return stacks.totals.bytes > 0 ? 100 * bytes / stacks.totals.bytes : 0; };
  double shown_bytes = 0;
  for (size_t s = 0; s < heaviest.size(); ++s) {
    const SiteStack& stack = heaviest[s];
    shown_bytes += stack.totals.bytes;
    lines.push_back(compose({{fmt::format("stack {} of {}: {:.1f}% of the bytes here, {}, {} allocs, {}", s + 1,
                                          stacks.count, share(stack.totals.bytes), stack.type_name,
                                          format_count(std::round(stack.totals.count)),
                                          format_rate_bytes(stack.totals.bytes)),
                              Style::kHeading}},
                            {}, width, Style::kHeading));
    for (const Frame& frame : stack.frames) lines.push_back(frame_line(frame, function_width, width, ellipsis));
    if (stack.truncated)
      lines.push_back(compose({{fmt::format("  {} deeper frames were not recorded (the probe keeps {})", ellipsis,
                                            GOTRACE_MAX_STACK_DEPTH),
                                Style::kDim}},
                              {}, width));
    lines.push_back(blank(width));
  }
  if (stacks.count > heaviest.size())
    lines.push_back(compose({{fmt::format("{} lighter stacks, {:.1f}% of the bytes here, are not shown",
                                          stacks.count - heaviest.size(), share(stacks.totals.bytes - shown_bytes)),
                              Style::kDim}},
                            {}, width));
  if (stacks.count == 0) lines.push_back(compose({{"symbolizing" + ellipsis, Style::kDim}}, {}, width));
  return lines;
}

}  // namespace

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
  std::string process;
  if (several_processes() && row->site.process < shown_.table.processes.size()) {
    const TableProcess& owner = shown_.table.processes[row->site.process];
    process = process_name_and_pid(owner);
  }
  lines = site_lines(*row, process, stacks_.count, width, ellipsis_);

  std::vector<ScreenLine> scrolled = stack_lines(stacks_, width, ellipsis_);
  size_t room = height > lines.size() ? height - lines.size() : 0;
  size_t& top = stack_view_->top;
  top = std::min(top, scrolled.size() > room ? scrolled.size() - room : 0);
  for (size_t i = top; i < scrolled.size() && i < top + room; ++i) lines.push_back(std::move(scrolled[i]));
  return lines;
}

}  // namespace gotrace
