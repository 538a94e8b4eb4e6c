#include "userspace/agent/push_queue.h"

#include <algorithm>

#include <fmt/format.h>

namespace gotrace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds backoff_delay(std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                        uint64_t failures) {
  if (failures == 0) return std::chrono::milliseconds(0);
  auto delay = base;
  for (uint64_t i = 1; i < failures && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

PushQueue::PushQueue(PushQueueOptions options, Send send, Log log)
    : options_(std::move(options)), send_(std::move(send)), log_(std::move(log)) {
  thread_ = std::thread([this] { run(); });
}

PushQueue::~PushQueue() { stop(); }

void PushQueue::enqueue(Upload upload) {
  auto entry = std::make_shared<const Upload>(std::move(upload));
  uint64_t size = entry->pprof.size();
  std::lock_guard lock(mutex_);
  if (stopping_ || size > options_.max_bytes || options_.max_profiles == 0) {
    stats_.dropped += 1;
    stats_.dropped_bytes += size;
    return;
  }
  while (!queue_.empty() && (queue_.size() >= options_.max_profiles || queued_bytes_ + size > options_.max_bytes))
    drop_front_locked();
  queue_.push_back(std::move(entry));
  queued_bytes_ += size;
  wake_.notify_all();
}

void PushQueue::drop_front_locked() {
  Entry front = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= front->pprof.size();
  // The one being sent is counted when its attempt ends: it may get through.
  if (front == in_flight_) return;
  stats_.dropped += 1;
  stats_.dropped_bytes += front->pprof.size();
}

PushQueueStats PushQueue::stats() const {
  std::lock_guard lock(mutex_);
  PushQueueStats copy = stats_;
  copy.queued = queue_.size();
  copy.queued_bytes = queued_bytes_;
  return copy;
}

void PushQueue::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    while (!stopping_ && (queue_.empty() || Clock::now() < retry_at_)) {
      if (queue_.empty()) wake_.wait(lock);
      else wake_.wait_until(lock, retry_at_);
    }
    if (stopping_) return;
    Entry entry = queue_.front();
    in_flight_ = entry;
    lock.unlock();
    PushOutcome outcome = send_(*entry);
    lock.lock();
    std::string line = settle(entry, outcome);
    in_flight_.reset();
    wake_.notify_all();  // drain() waits for the queue to empty
    if (!line.empty() && log_) {
      lock.unlock();
      log_(line);
      lock.lock();
    }
  }
}

std::string PushQueue::settle(const Entry& entry, const PushOutcome& outcome) {
  const std::string destination = options_.destination.empty() ? "the backend" : options_.destination;
  bool still_queued = !queue_.empty() && queue_.front() == entry;
  uint64_t size = entry->pprof.size();
  auto forget = [&] {
    if (!still_queued) return;
    queue_.pop_front();
    queued_bytes_ -= size;
  };
  std::string line;
  if (outcome.result == PushResult::ok) {
    stats_.sent += 1;
    forget();
    if (failures_in_row_ > 0)
      line = fmt::format("pushes to {} resumed after {} failures; {} profiles dropped meanwhile", destination,
                         failures_in_row_, stats_.dropped - dropped_at_first_failure_);
    failures_in_row_ = 0;
    rejecting_ = false;
    stats_.backing_off = false;
    stats_.backoff = std::chrono::milliseconds(0);
    retry_at_ = {};
    return line;
  }
  stats_.last_error = outcome.message.empty() ? outcome.cause : outcome.message;
  stats_.last_error_time = std::chrono::system_clock::now();
  if (outcome.result == PushResult::rejected) {
    stats_.rejected += 1;
    forget();
    if (!rejecting_)
      line = fmt::format("pushes to {} rejected: {} (profile {}); rejected profiles are dropped", destination,
                         outcome.cause, entry->what);
    rejecting_ = true;
    // The backend answered: the next profile need not wait.
    retry_at_ = {};
    return line;
  }
  stats_.retries += 1;
  if (failures_in_row_++ == 0) {
    dropped_at_first_failure_ = stats_.dropped;
    line = fmt::format("pushes to {} failing: {}; retrying with backoff", destination, outcome.cause);
  }
  if (!still_queued) {  // it made room for newer ones while being sent
    stats_.dropped += 1;
    stats_.dropped_bytes += size;
  }
  auto delay = backoff_delay(options_.backoff_base, options_.backoff_cap, failures_in_row_);
  stats_.backing_off = true;
  stats_.backoff = delay;
  retry_at_ = Clock::now() + (draining_ ? options_.drain_retry : jittered(delay));
  return line;
}

// Up to a quarter less than `delay`, so that agents that failed together do
// not retry together.
std::chrono::milliseconds PushQueue::jittered(std::chrono::milliseconds delay) {
  std::uniform_int_distribution<int64_t> less(0, delay.count() / 4);
  return delay - std::chrono::milliseconds(less(random_));
}

size_t PushQueue::drain(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  draining_ = true;
  retry_at_ = {};
  wake_.notify_all();
  wake_.wait_until(lock, deadline, [&] { return stopping_ || (queue_.empty() && !in_flight_); });
  size_t left = queue_.size();
  while (!queue_.empty()) drop_front_locked();
  return left;
}

void PushQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace gotrace
