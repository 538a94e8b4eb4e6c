// Closes the probe's links off the event loop. The kernel takes tens of
// milliseconds to release a multi-uprobe link (it waits for the uprobes'
// readers to be done), which a trace of a build pays for every process it
// probed: one closer thread takes the links of processes that are gone
// while the trace goes on. One thread, and never two links at once: the
// kernel takes a breakpoint out by rewriting its page, and two uprobes of
// one page taken out at the same time can put one of them back, with no
// uprobe behind it any more (the target dies of SIGTRAP at it).
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "base/fd.h"

namespace gotrace {

class LinkCloser {
 public:
  LinkCloser();
  // Closes every link still queued, one after the other, before it returns.
  ~LinkCloser();
  LinkCloser(const LinkCloser&) = delete;
  LinkCloser& operator=(const LinkCloser&) = delete;

  // Queues links to close on the closer's thread.
  void close_later(std::vector<Fd> links);
  // Returns once every link queued so far is closed.
  void drain();

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable ready_, drained_;
  std::deque<Fd> queue_;
  bool closing_ = false;   // the thread is closing one, outside the lock
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace gotrace
