// Closes the probe's links off the event loop. The kernel takes tens of
// milliseconds to release a multi-uprobe link (it waits for the uprobes'
// readers to be done), which a trace of a build pays for every process it
// probed: one closer thread takes the links of processes that are gone
// while the trace goes on, and at the end the rest are closed all at once
// from several threads, whose waits the kernel serves together.
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
  // Closes every link still queued, and `remaining`, in parallel.
  ~LinkCloser();
  LinkCloser(const LinkCloser&) = delete;
  LinkCloser& operator=(const LinkCloser&) = delete;

  // Queues links to close on the closer's thread.
  void close_later(std::vector<Fd> links);
  // Closes links now, from several threads at once; returns when all are.
  static void close_together(std::vector<Fd> links);

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Fd> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace gotrace
