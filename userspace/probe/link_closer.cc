#include "userspace/probe/link_closer.h"

namespace gotrace {

LinkCloser::LinkCloser() : thread_([this] { run(); }) {}

LinkCloser::~LinkCloser() {
  drain();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_one();
  thread_.join();
}

void LinkCloser::close_later(std::vector<Fd> links) {
  {
    std::lock_guard lock(mutex_);
    for (Fd& link : links)
      if (link.get() >= 0) queue_.push_back(std::move(link));
  }
  ready_.notify_one();
}

void LinkCloser::drain() {
  std::unique_lock lock(mutex_);
  drained_.wait(lock, [this] { return queue_.empty() && !closing_; });
}

void LinkCloser::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, with nothing left
    Fd link = std::move(queue_.front());
    queue_.pop_front();
    closing_ = true;
    lock.unlock();
    link.reset();
    lock.lock();
    closing_ = false;
    if (queue_.empty()) drained_.notify_all();
  }
}

}  // namespace gotrace
