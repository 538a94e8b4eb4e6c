#include "userspace/probe/link_closer.h"

#include <algorithm>
#include <atomic>

namespace gotrace {

LinkCloser::LinkCloser() : thread_([this] { run(); }) {}

LinkCloser::~LinkCloser() {
  std::vector<Fd> left;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (Fd& link : queue_) left.push_back(std::move(link));
    queue_.clear();
  }
  ready_.notify_one();
  thread_.join();
  close_together(std::move(left));
}

void LinkCloser::close_later(std::vector<Fd> links) {
  {
    std::lock_guard lock(mutex_);
    for (Fd& link : links)
      if (link.get() >= 0) queue_.push_back(std::move(link));
  }
  ready_.notify_one();
}

void LinkCloser::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Fd link = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    link.reset();
    lock.lock();
  }
}

void LinkCloser::close_together(std::vector<Fd> links) {
  constexpr size_t kThreads = 16;
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < std::min(kThreads, links.size()); ++i)
    threads.emplace_back([&] {
      for (size_t at; (at = next.fetch_add(1)) < links.size();) links[at].reset();
    });
  for (std::thread& thread : threads) thread.join();
}

}  // namespace gotrace
