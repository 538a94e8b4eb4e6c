#include "userspace/commands/agent_command.h"

#include <poll.h>
#include <unistd.h>

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "userspace/agent/agent_metrics.h"
#include "userspace/agent/health_server.h"
#include "userspace/agent/interval_profiles.h"
#include "userspace/agent/interval_publisher.h"
#include "userspace/agent/push_queue.h"
#include "userspace/commands/trace_command.h"
#include "userspace/process/process_scope.h"
#include "userspace/process/target_process.h"
#include "userspace/trace/trace_session.h"

namespace gotrace {
namespace {

// How long the last pushes may take once tracing has stopped.
constexpr std::chrono::seconds kFlushTime{10};
// How long a snapshot may take the event loop to hand over.
constexpr int kSnapshotWaitMs = 5000;

void log_line(const std::string& line) { std::cerr << "gotrace agent: " << line << '\n'; }

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

// Cuts the trace into intervals on its own thread: at each tick, asks the
// event loop for a snapshot and publishes every process's interval.
class IntervalTicker {
 public:
  IntervalTicker(SnapshotExchange& feed, IntervalPublisher& publisher, std::chrono::nanoseconds interval)
      : feed_(feed), publisher_(publisher), interval_(interval), start_(std::chrono::system_clock::now()) {}

  void start() { thread_ = std::thread([this] { run(); }); }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  // After stop() and the session's last snapshot: the last interval.
  void finish() {
    if (auto snapshot = feed_.take()) publish(*snapshot);
  }

 private:
  void run() {
    auto next = std::chrono::steady_clock::now() + interval_;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        if (wake_.wait_until(lock, next, [this] { return stopping_; })) return;
      }
      next += interval_;
      feed_.request();
      pollfd ready{feed_.ready_fd(), POLLIN, 0};
      if (poll(&ready, 1, kSnapshotWaitMs) <= 0) continue;  // the loop is busy: the next tick has it all
      if (auto snapshot = feed_.take()) publish(*snapshot);
    }
  }
  void publish(TraceSnapshot& snapshot) {
    auto end = std::chrono::system_clock::now();
    publisher_.publish(profiles_.take(snapshot), start_, end);
    start_ = end;
  }

  SnapshotExchange& feed_;
  IntervalPublisher& publisher_;
  std::chrono::nanoseconds interval_;
  IntervalProfiles profiles_;
  std::chrono::system_clock::time_point start_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// A profile as the push API takes it: of the memory type, figures of the
// interval alone (without __delta__, Pyroscope would take them as running
// totals and subtract the previous push's).
Upload upload_of(SeriesProfile profile) {
  Upload upload;
  upload.labels = {{"__name__", "memory"}, {"__delta__", "false"}};
  for (auto& label : profile.labels) upload.labels.push_back(std::move(label));
  upload.pprof = std::move(profile.pprof);
  upload.what = std::move(profile.what);
  return upload;
}

std::string metrics_url(const std::string& address, uint16_t port) {
  auto parsed = parse_listen_address(address);
  std::string host = parsed && !parsed->host.empty() ? parsed->host : "0.0.0.0";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return fmt::format("http://{}:{}/metrics", host, port);
}

std::string where_to(const AgentOptions& options) {
  std::string to;
  if (options.push) to = options.push->url;
  if (!options.dir.empty()) to += (to.empty() ? "" : " and ") + options.dir;
  return to;
}

}  // namespace

Result<int> run_agent(const AgentOptions& options) {
  if (Status s = block_stop_signals(); !s) return s.error();
  if (auto missing = missing_bpf_privileges()) return Error{*missing};
  std::optional<ProfileDirectory> dir;
  if (!options.dir.empty()) {
    auto opened = ProfileDirectory::open(options.dir, options.dir_max_bytes);
    if (!opened) return opened.error();
    dir = std::move(*opened);
  }
  // The queue's thread pushes through the pusher: it goes after the queue.
  std::unique_ptr<Pusher> pusher;
  std::unique_ptr<PushQueue> queue;
  if (options.push) {
    auto created = Pusher::create(*options.push);
    if (!created) return created.error();
    pusher = std::move(*created);
    PushQueueOptions queue_options;
    queue_options.max_bytes = options.push_queue_bytes;
    queue_options.destination = pusher->endpoint();
    queue = std::make_unique<PushQueue>(
        queue_options, [&pusher](const Upload& upload) { return pusher->push(upload); },
        [](std::string_view line) { log_line(std::string(line)); });
  }
  auto discovery = discovery_scope(options.cgroup);
  if (!discovery) return discovery.error();
  SessionScope scope = *discovery;
  // Everything that can be refused is, before anything is attached.
  std::function<void(SeriesProfile)> push;
  if (queue) push = [&queue](SeriesProfile profile) { queue->enqueue(upload_of(std::move(profile))); };
  IntervalPublisher publisher(SeriesLabeler(options.service_rules, options.labels, host_name()), std::move(dir),
                              push, log_line);
  std::unique_ptr<HealthServer> health;
  if (!options.health.empty()) {
    auto started = HealthServer::start(options.health, [&] {
      std::optional<PushQueueStats> pushes;
      if (queue) pushes = queue->stats();
      return render_agent_metrics(publisher.figures(), pushes ? &*pushes : nullptr);
    });
    if (!started) return started.error();
    health = std::move(*started);
  }
  end_by_pending_stop_signal();
  TraceSession session(options.trace, scope);
  if (Status s = session.load(); !s) return s.error();
  if (Status s = session.attach_scope(); !s) return s.error();
  SnapshotExchange* feed = session.open_feed();
  if (feed == nullptr) return make_error("agent: cannot create an eventfd for its snapshots");

  log_line(fmt::format("tracing every Go process {} through the runtime's heap profiler; a profile per process "
                       "every {:g}s to {}{}; SIGTERM or Ctrl-C to stop",
                       scope.cgroup ? "in cgroup " + scope.cgroup->path : std::string("on the host"),
                       std::chrono::duration<double>(options.interval).count(), where_to(options),
                       health ? fmt::format("; metrics at {}", metrics_url(options.health, health->port())) : ""));

  IntervalTicker ticker(*feed, publisher, options.interval);
  ticker.start();
  auto result = session.run(options.duration, -1, [](const signalfd_siginfo&) { return true; });
  ticker.stop();
  session.publish_last();
  ticker.finish();
  if (queue) queue->drain(std::chrono::steady_clock::now() + kFlushTime);
  std::optional<PushQueueStats> pushes;
  if (queue) pushes = queue->stats();
  log_line(agent_summary(publisher.figures(), pushes ? &*pushes : nullptr));
  if (!result) return result.error();
  return 0;
}

}  // namespace gotrace
