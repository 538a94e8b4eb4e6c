// The queue between the agent's tracing and its backend: profiles wait here
// to be pushed, in order, by a thread of the queue's own.
//
// Tracing must never wait for the backend. enqueue() never blocks; the
// queue is bounded by bytes and by count, and when a new profile does not
// fit, the oldest ones go first (the newest say most about now), counted.
// A profile the backend could take later (PushResult::retry) stays at the
// front and is tried again after a backoff, 1 s doubling to 60 s with
// jitter, so the bound holds however long the backend is down; one it
// rejected is dropped, counted, and the next one goes.
//
// Logging is for changes of state only: the first failure after a success,
// the recovery, the first rejection after a success; never a line per
// attempt. Everything else is in stats(), for the --health metrics.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "userspace/agent/pyroscope_push.h"

namespace gotrace {

struct PushQueueOptions {
  uint64_t max_bytes = 64ull << 20;  // --push-queue; a profile's bytes are its gzipped pprof
  size_t max_profiles = 10000;
  std::chrono::milliseconds backoff_base{1000};  // the first wait after a failure
  std::chrono::milliseconds backoff_cap{60000};  // the longest
  std::chrono::milliseconds drain_retry{250};    // the wait after a failure while draining
  std::string destination;  // names the backend in log lines, e.g. Pusher::endpoint()
};

struct PushQueueStats {
  uint64_t sent = 0;           // profiles the backend took
  uint64_t retries = 0;        // failed attempts that will be (or would have been) tried again
  uint64_t dropped = 0;        // profiles dropped unsent: the oldest when full, and the rest at drain
  uint64_t dropped_bytes = 0;
  uint64_t rejected = 0;       // profiles the backend refused for good
  size_t queued = 0;           // waiting now, the one being sent included
  uint64_t queued_bytes = 0;
  std::string last_error;      // the last failed push's message; "" when none yet
  std::chrono::system_clock::time_point last_error_time{};
  bool backing_off = false;    // the last attempt failed and the next waits
  std::chrono::milliseconds backoff{0};  // the current wait before the next attempt, unjittered
};

// The wait after the n-th failure in a row (n >= 1): base * 2^(n-1), at most cap.
std::chrono::milliseconds backoff_delay(std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                        uint64_t failures);

class PushQueue {
 public:
  using Send = std::function<PushOutcome(const Upload&)>;  // e.g. Pusher::push
  using Log = std::function<void(std::string_view)>;       // one line, no newline

  // Starts the sending thread. `send` and `log` are called on it only.
  PushQueue(PushQueueOptions options, Send send, Log log);
  ~PushQueue();  // stop()
  PushQueue(const PushQueue&) = delete;
  PushQueue& operator=(const PushQueue&) = delete;

  // Adds a profile; never blocks. Makes room by dropping the oldest; a
  // profile larger than the whole bound is dropped itself, as is one that
  // comes after stop().
  void enqueue(Upload upload);

  PushQueueStats stats() const;

  // At shutdown: stops waiting out backoffs (a failure is retried after
  // options.drain_retry instead) and sends what is queued until it
  // is all sent or `deadline` passes. Returns how many profiles were left:
  // they count as dropped. A push still in flight then ends within its
  // timeout, and counts as sent if the backend took it.
  size_t drain(std::chrono::steady_clock::time_point deadline);

  // Ends the thread: at once if it is waiting, else when the push in flight
  // returns (the pusher's timeout bounds that). Profiles still queued stay
  // counted as queued. Idempotent.
  void stop();

 private:
  using Entry = std::shared_ptr<const Upload>;

  void run();
  // What the thread does with an attempt's outcome; returns a line to log,
  // or "". Called with the lock held.
  std::string settle(const Entry& entry, const PushOutcome& outcome);
  void drop_front_locked();
  std::chrono::milliseconds jittered(std::chrono::milliseconds delay);

  const PushQueueOptions options_;
  const Send send_;
  const Log log_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Entry> queue_;
  uint64_t queued_bytes_ = 0;
  Entry in_flight_;            // being sent: still queue_.front() unless dropped to make room
  bool stopping_ = false;
  bool draining_ = false;
  std::chrono::steady_clock::time_point retry_at_{};  // no attempt before this
  uint64_t failures_in_row_ = 0;
  uint64_t dropped_at_first_failure_ = 0;
  bool rejecting_ = false;     // a rejection was logged and no success came since
  PushQueueStats stats_;       // the counters; queue sizes are filled in by stats()
  std::minstd_rand random_{std::random_device{}()};
  std::thread thread_;
};

}  // namespace gotrace
