// The push queue's logic, driven by a fake backend in the test: bounds and
// which profiles go, order, backoff and recovery, rejections, and drain.
// Backoffs are a few milliseconds here; no assertion depends on how long
// anything takes (waits for the sender are bounded at 10 s only so that a
// broken queue fails instead of hanging).
#include "userspace/agent/push_queue.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace gotrace {
namespace {

using std::chrono::milliseconds;

// A backend that answers from a script (ok once it runs out), records what
// it was sent, and can be held so that a push stays in flight.
class FakeBackend {
 public:
  explicit FakeBackend(std::vector<PushResult> script = {}) : script_(script.begin(), script.end()) {}

  PushOutcome send(const Upload& upload) {
    std::unique_lock lock(mutex_);
    calls_.push_back(upload.what);
    size_t number = calls_.size();
    changed_.notify_all();
    // Bounded, so that a failed test does not hang in the queue's stop().
    changed_.wait_for(lock, std::chrono::seconds(10), [&] { return number < held_from_; });
    PushResult result = PushResult::ok;
    if (!script_.empty()) {
      result = script_.front();
      script_.pop_front();
    }
    if (result == PushResult::ok) return {};
    std::string cause = result == PushResult::retry ? "HTTP 503" : "HTTP 400";
    return {result, result == PushResult::retry ? 503 : 400, cause, "push of " + upload.what + ": " + cause};
  }
  PushQueue::Send sender() {
    return [this](const Upload& upload) { return send(upload); };
  }

  // Pushes from the `number`-th on (counting from 1) wait for release().
  void hold_from(size_t number) {
    std::lock_guard lock(mutex_);
    held_from_ = number;
    changed_.notify_all();
  }
  void hold() { hold_from(0); }
  void release() {
    std::lock_guard lock(mutex_);
    held_from_ = SIZE_MAX;
    changed_.notify_all();
  }
  // Waits until `count` pushes have been attempted.
  bool wait_for_calls(size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return calls_.size() >= count; });
  }
  std::vector<std::string> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<PushResult> script_;
  std::vector<std::string> calls_;
  size_t held_from_ = SIZE_MAX;
};

// Log lines, as the queue reports them.
struct LogLines {
  std::mutex mutex;
  std::vector<std::string> lines;
  PushQueue::Log sink() {
    return [this](std::string_view line) {
      std::lock_guard lock(mutex);
      lines.emplace_back(line);
    };
  }
};

Upload profile(std::string what, size_t bytes = 10) { return Upload{{}, std::string(bytes, 'p'), std::move(what)}; }

PushQueueOptions fast(uint64_t max_bytes = 1 << 20, size_t max_profiles = 100) {
  return {max_bytes, max_profiles, milliseconds(1), milliseconds(4), milliseconds(1), "http://pyroscope:4040"};
}

// Waits (at most 10 s) until the queue's stats satisfy `done`.
bool wait_until(const PushQueue& queue, const std::function<bool(const PushQueueStats&)>& done) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done(queue.stats())) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

TEST(PushQueue, BackoffDoublesUpToTheCap) {
  auto delay = [](uint64_t failures) { return backoff_delay(milliseconds(1000), milliseconds(60000), failures).count(); };
  EXPECT_EQ(delay(0), 0);
  EXPECT_EQ(delay(1), 1000);
  EXPECT_EQ(delay(2), 2000);
  EXPECT_EQ(delay(6), 32000);
  EXPECT_EQ(delay(7), 60000);
  EXPECT_EQ(delay(1000000), 60000);
}

TEST(PushQueue, SendsInOrder) {
  FakeBackend backend;
  PushQueue queue(fast(), backend.sender(), nullptr);
  for (std::string what : {"a", "b", "c"}) queue.enqueue(profile(what));
  ASSERT_TRUE(backend.wait_for_calls(3));
  EXPECT_EQ(backend.calls(), (std::vector<std::string>{"a", "b", "c"}));
  queue.stop();
  PushQueueStats stats = queue.stats();
  EXPECT_EQ(stats.sent, 3u);
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(stats.queued_bytes, 0u);
  EXPECT_EQ(stats.dropped + stats.retries + stats.rejected, 0u);
}

TEST(PushQueue, WhenFullByCountTheOldestGoFirst) {
  FakeBackend backend;
  backend.hold();
  PushQueue queue(fast(1 << 20, 3), backend.sender(), nullptr);
  queue.enqueue(profile("p0"));
  ASSERT_TRUE(backend.wait_for_calls(1));  // p0 is in flight
  for (std::string what : {"p1", "p2", "p3", "p4", "p5"}) queue.enqueue(profile(what));
  PushQueueStats full = queue.stats();
  EXPECT_EQ(full.queued, 3u);
  EXPECT_EQ(full.queued_bytes, 30u);
  // p0 made room too, but it is counted when its push ends: it got through.
  EXPECT_EQ(full.dropped, 2u);
  EXPECT_EQ(full.dropped_bytes, 20u);
  backend.release();
  ASSERT_TRUE(backend.wait_for_calls(4));
  queue.stop();
  EXPECT_EQ(backend.calls(), (std::vector<std::string>{"p0", "p3", "p4", "p5"}));
  EXPECT_EQ(queue.stats().sent, 4u);
  EXPECT_EQ(queue.stats().dropped, 2u);
}

TEST(PushQueue, WhenFullByBytesTheOldestGoFirst) {
  FakeBackend backend({PushResult::retry});
  backend.hold();
  PushQueue queue(fast(100), backend.sender(), nullptr);
  queue.enqueue(profile("p0", 10));
  ASSERT_TRUE(backend.wait_for_calls(1));
  queue.enqueue(profile("p1", 40));
  queue.enqueue(profile("p2", 40));
  queue.enqueue(profile("p3", 30));  // 120 bytes: p0 and p1 make room
  queue.enqueue(profile("huge", 101));  // more than the whole bound: dropped itself
  EXPECT_EQ(queue.stats().queued, 2u);
  EXPECT_EQ(queue.stats().queued_bytes, 70u);
  EXPECT_EQ(queue.stats().dropped, 2u);
  EXPECT_EQ(queue.stats().dropped_bytes, 141u);
  backend.release();  // p0 fails, and is not tried again: it was dropped meanwhile
  ASSERT_TRUE(backend.wait_for_calls(3));
  queue.stop();
  EXPECT_EQ(backend.calls(), (std::vector<std::string>{"p0", "p2", "p3"}));
  PushQueueStats stats = queue.stats();
  EXPECT_EQ(stats.sent, 2u);
  EXPECT_EQ(stats.retries, 1u);
  EXPECT_EQ(stats.dropped, 3u);
  EXPECT_EQ(stats.dropped_bytes, 151u);
  EXPECT_EQ(stats.queued, 0u);
}

TEST(PushQueue, RetriesTheSameProfileWithBackoffThenResumesInOrder) {
  using R = PushResult;
  FakeBackend backend({R::retry, R::retry, R::retry, R::retry});
  LogLines log;
  PushQueue queue(fast(), backend.sender(), log.sink());
  queue.enqueue(profile("a"));
  queue.enqueue(profile("b"));
  ASSERT_TRUE(backend.wait_for_calls(6));
  queue.stop();
  EXPECT_EQ(backend.calls(), (std::vector<std::string>{"a", "a", "a", "a", "a", "b"}));
  PushQueueStats stats = queue.stats();
  EXPECT_EQ(stats.retries, 4u);
  EXPECT_EQ(stats.sent, 2u);
  EXPECT_FALSE(stats.backing_off);
  EXPECT_EQ(stats.last_error, "push of a: HTTP 503");
  EXPECT_NE(stats.last_error_time, std::chrono::system_clock::time_point{});
  EXPECT_EQ(log.lines, (std::vector<std::string>{
                           "pushes to http://pyroscope:4040 failing: HTTP 503; retrying with backoff",
                           "pushes to http://pyroscope:4040 resumed after 4 failures; 0 profiles dropped meanwhile"}));
}

TEST(PushQueue, TheBackoffGrowsWithEachFailure) {
  FakeBackend backend({PushResult::retry, PushResult::retry, PushResult::retry, PushResult::retry});
  backend.hold_from(3);
  PushQueue queue(fast(), backend.sender(), nullptr);
  queue.enqueue(profile("a"));
  ASSERT_TRUE(backend.wait_for_calls(3));  // the third attempt, after two failures
  PushQueueStats stats = queue.stats();
  EXPECT_EQ(stats.retries, 2u);
  EXPECT_TRUE(stats.backing_off);
  EXPECT_EQ(stats.backoff, milliseconds(2));
  backend.hold_from(5);
  ASSERT_TRUE(backend.wait_for_calls(5));  // after four: 1, 2, 4, and the cap, 4
  stats = queue.stats();
  EXPECT_EQ(stats.retries, 4u);
  EXPECT_EQ(stats.backoff, milliseconds(4));
  backend.release();
  queue.stop();
}

TEST(PushQueue, RejectedProfilesAreDroppedAndLoggedOnce) {
  using R = PushResult;
  FakeBackend backend({R::rejected, R::rejected, R::ok, R::rejected});
  LogLines log;
  PushQueue queue(fast(), backend.sender(), log.sink());
  for (std::string what : {"a", "b", "c", "d", "e"}) queue.enqueue(profile(what));
  ASSERT_TRUE(backend.wait_for_calls(5));
  queue.stop();
  EXPECT_EQ(backend.calls(), (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(queue.stats().rejected, 3u);
  EXPECT_EQ(queue.stats().sent, 2u);
  EXPECT_EQ(queue.stats().retries, 0u);
  EXPECT_EQ(log.lines, (std::vector<std::string>{
                           "pushes to http://pyroscope:4040 rejected: HTTP 400 (profile a); rejected profiles are dropped",
                           "pushes to http://pyroscope:4040 rejected: HTTP 400 (profile d); rejected profiles are dropped"}));
}

TEST(PushQueue, DrainSkipsTheBackoffAndSendsWhatIsQueued) {
  FakeBackend backend({PushResult::retry});
  PushQueueOptions options = fast();
  options.backoff_base = options.backoff_cap = std::chrono::hours(1);
  PushQueue queue(options, backend.sender(), nullptr);
  queue.enqueue(profile("a"));
  ASSERT_TRUE(wait_until(queue, [](const PushQueueStats& stats) { return stats.backing_off; }));
  queue.enqueue(profile("b"));
  EXPECT_EQ(queue.drain(std::chrono::steady_clock::now() + std::chrono::seconds(10)), 0u);
  EXPECT_EQ(backend.calls(), (std::vector<std::string>{"a", "a", "b"}));
  EXPECT_EQ(queue.stats().sent, 2u);
}

TEST(PushQueue, DrainGivesUpAtTheDeadlineAndCountsWhatIsLeft) {
  FakeBackend backend(std::vector<PushResult>(1000000, PushResult::retry));
  PushQueue queue(fast(), backend.sender(), nullptr);
  for (std::string what : {"a", "b", "c"}) queue.enqueue(profile(what));
  EXPECT_EQ(queue.drain(std::chrono::steady_clock::now() + milliseconds(50)), 3u);
  queue.stop();
  PushQueueStats stats = queue.stats();
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(stats.dropped, 3u);
  EXPECT_EQ(stats.dropped_bytes, 30u);
  EXPECT_EQ(stats.sent, 0u);
  for (const std::string& what : backend.calls()) EXPECT_EQ(what, "a");
}

TEST(PushQueue, StopsAtOnceDuringALongBackoffAndDropsLaterProfiles) {
  FakeBackend backend({PushResult::retry});
  PushQueueOptions options = fast();
  options.backoff_base = options.backoff_cap = std::chrono::hours(1);
  PushQueue queue(options, backend.sender(), nullptr);
  queue.enqueue(profile("a"));
  ASSERT_TRUE(wait_until(queue, [](const PushQueueStats& stats) { return stats.backing_off; }));
  queue.stop();  // would hang the test for an hour if the wait were a sleep
  queue.enqueue(profile("late"));
  PushQueueStats stats = queue.stats();
  EXPECT_EQ(stats.queued, 1u);  // a: still queued, never sent
  EXPECT_EQ(stats.dropped, 1u);
  EXPECT_EQ(backend.calls(), std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace gotrace
