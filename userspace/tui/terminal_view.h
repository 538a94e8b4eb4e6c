// The live view on the terminal: ncurses, on a thread of its own.
//
// The thread asks the event loop for a snapshot at each refresh, symbolizes
// the stacks it has not seen (LiveSites), feeds the ScreenModel and draws
// it; it also reads the keys and follows the terminal's size (SIGWINCH,
// through a signalfd). The event loop never waits for it: it only answers
// requests through the SnapshotExchange, and learns that the user quit from
// quit_fd().
//
// While the view is open, only its thread symbolizes: the binary's decode
// cache is not thread-safe, and the event loop does not symbolize. It makes
// each process's symbolizer itself, the first time a snapshot brings the
// process.
#pragma once

#include <signal.h>

#include <atomic>
#include <memory>
#include <thread>

#include "base/result.h"
#include "base/fd.h"
#include "userspace/tui/live_sites.h"
#include "userspace/tui/screen_model.h"
#include "userspace/tui/trace_snapshot.h"

struct screen;  // ncurses

namespace gotrace {

class TerminalView {
 public:
  // Takes over the terminal on stdin and stdout and starts the thread. Fails
  // when the terminal cannot be driven (TERM unknown, for one); the terminal
  // is left as it was then.
  static Result<std::unique_ptr<TerminalView>> open(TraceInfo info, SnapshotExchange& exchange);
  ~TerminalView();
  TerminalView(const TerminalView&) = delete;
  TerminalView& operator=(const TerminalView&) = delete;

  // Readable once the user has asked to quit.
  int quit_fd() const { return quit_.get(); }
  // The target has exited: the view says so and keeps the last figures.
  void target_exited();
  // Stops the thread and gives the terminal back as it was. Idempotent, and
  // also run by the destructor, so that no path leaves the terminal raw.
  void close();

 private:
  TerminalView(TraceInfo info, SnapshotExchange& exchange, std::string ellipsis);
  void run();
  void draw();
  void handle_keys();
  void take_snapshot();
  void follow_resize();

  ScreenModel model_;
  LiveSites sites_;
  SnapshotExchange& exchange_;
  screen* screen_ = nullptr;
  Fd quit_;     // written by the view: the user quit
  Fd control_;  // written to the view: stop, or the target exited
  Fd resized_;  // signalfd for SIGWINCH
  std::atomic<bool> stopping_{false};
  std::atomic<bool> target_exited_{false};
  bool final_snapshot_seen_ = false;
  sigset_t saved_mask_;  // the opening thread's signal mask, restored by close()
  std::thread thread_;
};

}  // namespace gotrace
