#include "userspace/tui/terminal_view.h"

#include <langinfo.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <clocale>
#include <cstdio>
#include <cstring>

#include <curses.h>

namespace gotrace {
namespace {

// Colour pairs, when the terminal has colours.
enum Pair : short { kHeadingPair = 1, kSortedPair, kSelectedPair, kKeyPair, kAlertPair };

attr_t attributes(Style style, bool colour) {
  switch (style) {
    case Style::kNormal: return A_NORMAL;
    case Style::kTitle: return A_BOLD;
    case Style::kHeading: return colour ? COLOR_PAIR(kHeadingPair) : A_REVERSE;
    case Style::kSortedHeading: return colour ? COLOR_PAIR(kSortedPair) | A_BOLD : A_REVERSE | A_BOLD | A_UNDERLINE;
    case Style::kSelected: return colour ? COLOR_PAIR(kSelectedPair) : A_REVERSE;
    case Style::kKey: return colour ? COLOR_PAIR(kKeyPair) : A_REVERSE;
    case Style::kAlert: return colour ? COLOR_PAIR(kAlertPair) | A_BOLD : A_BOLD | A_REVERSE;
    case Style::kDim: return A_DIM;
  }
  return A_NORMAL;
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::optional<Key> key_of(int kind, wint_t code) {
  if (kind == OK) {
    if (code == 27) return Key{Key::kEscape};
    if (code == '\n' || code == '\r') return Key{Key::kEnter};
    if (code == 127 || code == 8) return Key{Key::kBackspace};
    return Key::of(static_cast<char32_t>(code));
  }
  switch (code) {
    case KEY_UP: return Key{Key::kUp};
    case KEY_DOWN: return Key{Key::kDown};
    case KEY_PPAGE: return Key{Key::kPageUp};
    case KEY_NPAGE: return Key{Key::kPageDown};
    case KEY_HOME: return Key{Key::kHome};
    case KEY_END: return Key{Key::kEnd};
    case KEY_ENTER: return Key{Key::kEnter};
    case KEY_BACKSPACE: return Key{Key::kBackspace};
    case KEY_BTAB: return Key{Key::kBackTab};
  }
  return std::nullopt;
}

void signal_once(int fd) {
  uint64_t one = 1;
  // Fails only when the counter is already huge: the reader is woken either way.
  (void)!write(fd, &one, sizeof(one));
}

}  // namespace

TerminalView::TerminalView(TraceInfo info, SnapshotExchange& exchange, std::string ellipsis)
    : model_(std::move(info), std::move(ellipsis)), exchange_(exchange) {}

Result<std::unique_ptr<TerminalView>> TerminalView::open(TraceInfo info, SnapshotExchange& exchange) {
  if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) return make_error("stdin and stdout are not a terminal");
  // ncursesw writes UTF-8 only under a UTF-8 character type.
  std::setlocale(LC_CTYPE, "");
  bool utf8 = std::strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
  std::unique_ptr<TerminalView> view(
      new TerminalView(std::move(info), exchange, utf8 ? "…" : "~"));

  view->quit_ = Fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  view->control_ = Fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (view->quit_.get() < 0 || view->control_.get() < 0)
    return make_error("cannot create an eventfd: {}", std::strerror(errno));
  // SIGWINCH is read through a signalfd on the view's thread, so it must be
  // blocked everywhere; SIGTSTP is left to ncurses' own handler (it puts the
  // terminal back before the stop and repaints after), on the view's thread
  // only, which is the one drawing.
  sigset_t resize, blocked;
  sigemptyset(&resize);
  sigaddset(&resize, SIGWINCH);
  blocked = resize;
  sigaddset(&blocked, SIGTSTP);
  pthread_sigmask(SIG_BLOCK, &blocked, &view->saved_mask_);
  view->resized_ = Fd(signalfd(-1, &resize, SFD_CLOEXEC | SFD_NONBLOCK));

  view->screen_ = newterm(nullptr, stdout, stdin);
  if (view->screen_ == nullptr) {
    pthread_sigmask(SIG_SETMASK, &view->saved_mask_, nullptr);
    const char* term = std::getenv("TERM");
    return make_error("cannot drive the terminal (TERM={})", term ? term : "unset");
  }
  set_term(view->screen_);
  // A terminal that cannot place the cursor (TERM=dumb) would get the
  // screen as a stream of text.
  const char* place_cursor = tigetstr("cup");
  if (place_cursor == nullptr || place_cursor == reinterpret_cast<char*>(-1)) {
    endwin();
    delscreen(view->screen_);
    view->screen_ = nullptr;
    pthread_sigmask(SIG_SETMASK, &view->saved_mask_, nullptr);
    const char* term = std::getenv("TERM");
    return make_error("TERM={} cannot place the cursor", term ? term : "unset");
  }
  cbreak();
  noecho();
  nonl();
  keypad(stdscr, TRUE);
  nodelay(stdscr, TRUE);
  set_escdelay(25);  // Esc goes back at once; escape sequences arrive faster than this
  curs_set(0);
  if (has_colors()) {
    start_color();
    use_default_colors();
    init_pair(kHeadingPair, COLOR_BLACK, COLOR_GREEN);
    init_pair(kSortedPair, COLOR_BLACK, COLOR_CYAN);
    init_pair(kSelectedPair, COLOR_BLACK, COLOR_CYAN);
    init_pair(kKeyPair, COLOR_BLACK, COLOR_CYAN);
    init_pair(kAlertPair, COLOR_WHITE, COLOR_RED);
  }
  view->thread_ = std::thread([raw = view.get()] { raw->run(); });
  return view;
}

TerminalView::~TerminalView() { close(); }

void TerminalView::target_exited() {
  target_exited_ = true;
  signal_once(control_.get());
}

void TerminalView::close() {
  if (thread_.joinable()) {
    stopping_ = true;
    signal_once(control_.get());
    thread_.join();
  }
  if (screen_ != nullptr) {
    endwin();
    delscreen(screen_);
    screen_ = nullptr;
    std::fflush(stdout);
    pthread_sigmask(SIG_SETMASK, &saved_mask_, nullptr);
  }
}

void TerminalView::run() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTSTP);
  pthread_sigmask(SIG_UNBLOCK, &stop, nullptr);

  using Clock = std::chrono::steady_clock;
  exchange_.request();  // the first figures, at once
  Clock::time_point last_request = Clock::now();
  draw();
  bool keys_open = true;
  while (!stopping_) {
    int timeout = -1;
    if (!final_snapshot_seen_) {
      auto due = last_request + model_.refresh_interval() - Clock::now();
      timeout = std::max<int>(0, std::chrono::ceil<std::chrono::milliseconds>(due).count());
    }
    // A terminal that hung up stays readable for ever: stop reading it (the
    // event loop gets SIGHUP and closes the view).
    pollfd fds[4] = {{keys_open ? STDIN_FILENO : -1, POLLIN, 0},
                     {control_.get(), POLLIN, 0},
                     {exchange_.ready_fd(), POLLIN, 0},
                     {resized_.get(), POLLIN, 0}};
    int ready = poll(fds, 4, timeout);
    if (ready < 0 && errno != EINTR) break;
    bool redraw = false;
    if (fds[1].revents & POLLIN) {
      uint64_t count;
      (void)!read(control_.get(), &count, sizeof(count));  // resets the counter; EAGAIN when already read
      if (stopping_) break;
      if (target_exited_) model_.set_target_exited();
      redraw = true;
    }
    if (fds[2].revents & POLLIN) {
      take_snapshot();
      redraw = true;
    }
    if (fds[3].revents & POLLIN) {
      follow_resize();
      redraw = true;
    }
    if (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) keys_open = false;
    if (fds[0].revents & POLLIN) {
      handle_keys();
      redraw = true;
    }
    if (!final_snapshot_seen_ && Clock::now() >= last_request + model_.refresh_interval()) {
      exchange_.request();
      last_request = Clock::now();
    }
    if (redraw) draw();
  }
}

void TerminalView::take_snapshot() {
  std::unique_ptr<TraceSnapshot> snapshot = exchange_.take();
  if (!snapshot) return;
  SiteTable table = sites_.update(*snapshot);
  table.tracer_cpu_seconds = cpu_seconds();
  model_.update(table);
  if (auto site = model_.stack_site(); site && !model_.paused())
    model_.set_stacks(sites_.stacks_at(*site, ScreenModel::kStacksShown));
  final_snapshot_seen_ |= snapshot->final;
}

void TerminalView::handle_keys() {
  wint_t code;
  int kind;
  while ((kind = get_wch(&code)) != ERR) {
    if (kind == KEY_CODE_YES && code == KEY_RESIZE) continue;  // followed through SIGWINCH
    std::optional<Key> key = key_of(kind, code);
    if (!key) continue;
    switch (model_.press(*key)) {
      case Action::kQuit: signal_once(quit_.get()); break;
      case Action::kShowStacks:
        model_.set_stacks(sites_.stacks_at(*model_.stack_site(), ScreenModel::kStacksShown));
        break;
      case Action::kIntervalChanged:
      case Action::kNone: break;
    }
  }
}

void TerminalView::follow_resize() {
  signalfd_siginfo info;
  while (read(resized_.get(), &info, sizeof(info)) == sizeof(info)) {
  }
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_row > 0 && size.ws_col > 0)
    resizeterm(size.ws_row, size.ws_col);
}

void TerminalView::draw() {
  bool colour = has_colors();
  std::vector<ScreenLine> lines = model_.render(COLS, LINES);
  for (size_t y = 0; y < lines.size(); ++y) {
    move(static_cast<int>(y), 0);
    for (const Span& span : lines[y].spans) {
      attrset(attributes(span.style, colour));
      addstr(span.text.c_str());  // at the bottom-right corner this reports an error, and still draws
    }
  }
  attrset(A_NORMAL);
  // Only what changed goes to the terminal: no clearing, no flicker.
  wnoutrefresh(stdscr);
  doupdate();
}

}  // namespace gotrace
