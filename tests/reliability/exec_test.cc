// Targets that exec, panic or stop while gotrace traces them: the trace ends
// cleanly where it must (at an exec, which the summary names, or at the exit)
// with every allocation up to there in the files, symbolized against the
// program that was traced; a stopped target loses nothing and does not hang
// gotrace; and nothing gotrace loaded or attached outlives it.
//
// Needs root, as the integration tier does.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tests/reliability/reliability_support.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/leftovers.h"
#include "tests/support/scratch_file.h"
#include "tests/support/target_code.h"

namespace gotrace {
namespace {

using namespace testing;
using namespace std::chrono_literals;

// gotrace with `args`, its stderr going to `err_path` (read as it comes with
// wait_for_text), its stdout (the program's, under `run`) to the pipe.
std::vector<std::string> tracer_argv(const std::string& err_path, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$@\" 2>\"$0\"", err_path, gotrace_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// Whether the file at `path` comes to hold `text` within `limit`.
bool wait_for_text(const std::string& path, const std::string& text, std::chrono::seconds limit) {
  for (auto end = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < end;) {
    if (read_file(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// Kills `pid` with SIGKILL if it still runs after `limit`: a gotrace that
// hangs fails its test instead of stalling the tier.
class Watchdog {
 public:
  Watchdog(pid_t pid, std::chrono::seconds limit)
      : thread_([this, pid, limit] {
          std::unique_lock lock(mutex_);
          if (!done_.wait_for(lock, limit, [this] { return disarmed_; })) {
            fired_ = true;
            kill(pid, SIGKILL);
          }
        }) {}
  ~Watchdog() { disarm(); }
  void disarm() {
    {
      std::lock_guard lock(mutex_);
      disarmed_ = true;
    }
    done_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  bool fired() const { return fired_; }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  bool disarmed_ = false;
  std::atomic<bool> fired_{false};
  std::thread thread_;
};

// `gotrace attach TARGET --folded FILE`, and `more` arguments, beside the
// test; its stderr goes to a file.
class AttachedTracer {
 public:
  AttachedTracer(pid_t target, const std::string& name, const std::vector<std::string>& more = {})
      : err_(name + ".err"), folded_(name + ".folded") {
    std::vector<std::string> args{"attach", std::to_string(target), "--exact", "--folded", folded_.path()};
    args.insert(args.end(), more.begin(), more.end());
    tracer_ = std::make_unique<ChildProcess>(tracer_argv(err_.path(), args));
  }

  pid_t pid() const { return tracer_->pid(); }
  bool wait_attached() { return wait_for_text(err_.path(), "gotrace: attached to pid", 60s); }
  std::string err() const { return read_file(err_.path()); }
  std::string folded() const { return folded_.read(); }

  // Waits for gotrace to exit and returns its status; a test failure when it
  // still runs after `limit` (it is killed then).
  int wait(std::chrono::seconds limit) {
    Watchdog watchdog(pid(), limit);
    int status = tracer_->wait();
    watchdog.disarm();
    EXPECT_FALSE(watchdog.fired()) << "gotrace still ran after " << limit.count() << " s: " << err();
    return status;
  }

  // Ends it with SIGINT, as Ctrl-C does: it must exit 0 within `limit`
  // having lost nothing. Returns its stderr.
  std::string interrupt(std::chrono::seconds limit) {
    kill(pid(), SIGINT);
    int status = wait(limit);
    std::string text = err();
    EXPECT_EQ(status, 0) << text;
    EXPECT_NE(text.find("; 0 events lost"), std::string::npos) << text;
    return text;
  }

 private:
  ScratchFile err_, folded_;
  std::unique_ptr<ChildProcess> tracer_;
};

// Waits up to 5 s for `pid` to stop (SIGSTOP).
void wait_until_stopped(pid_t pid) {
  for (int i = 0; i < 250 && process_state(pid) != 'T'; ++i) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(process_state(pid), 'T') << "pid " << pid << " did not stop";
}

// The first child of `parent` (the program `gotrace run` started).
pid_t first_child(pid_t parent) {
  std::ifstream children(fmt::format("/proc/{}/task/{}/children", parent, parent));
  pid_t child = 0;
  children >> child;
  return child;
}

std::string canonical(const std::string& path) { return std::filesystem::canonical(path).string(); }

// The pprof profile read back by Go's own pprof: it must parse and hold
// `function`.
void expect_pprof_has(const std::string& path, const std::string& function) {
  CommandResult raw = run_command({"go", "tool", "pprof", "-raw", path});
  EXPECT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_NE(raw.out.find(function), std::string::npos) << raw.out.substr(0, 3000);
}

// While `tracer` traces `target`: its uprobes are attached and live in the
// target's code, and it holds the exec watcher beside them.
void expect_tracing_with_exec_watcher(pid_t tracer, pid_t target) {
  expect_breakpoints_at(target, probe_file_offsets(target));
  GotraceBpfObjects held = gotrace_bpf_objects_held_by(tracer);
  EXPECT_EQ(held.error, "");
  EXPECT_FALSE(held.links.empty()) << "bpftool shows no link of gotrace's";
  std::vector<std::string> programs;
  for (const auto& [id, name] : held.program_names) programs.push_back(name);
  EXPECT_NE(std::find(programs.begin(), programs.end(), "watch_exec"), programs.end())
      << "gotrace holds no exec watcher; its programs: " << fmt::format("{}", fmt::join(programs, ", "));
}

// `traced` (a build of allocs) allocates kExecAllocations objects and execs
// `next` in steady mode, under gotrace attach: the trace ends at the exec,
// promptly, with those allocations and none of the new program's.
constexpr uint64_t kExecAllocations = 5000;
void expect_attach_ends_at_exec(const std::string& traced, const std::string& next) {
  ChildProcess target({traced, "exec-on-signal", std::to_string(kExecAllocations), next, "steady"});
  target.read_until("ready");
  LeftoverCheck check;
  ScratchFile pprof("exec.pb.gz");
  AttachedTracer tracer(target.pid(), "exec", {"-o", pprof.path()});
  ASSERT_TRUE(tracer.wait_attached()) << tracer.err();
  expect_tracing_with_exec_watcher(tracer.pid(), target.pid());

  auto signalled = std::chrono::steady_clock::now();
  kill(target.pid(), SIGUSR1);
  target.read_until("steady");  // the new program runs
  int status = tracer.wait(30s);
  auto took = std::chrono::steady_clock::now() - signalled;
  std::string text = tracer.err();
  EXPECT_EQ(status, 0) << text;
  EXPECT_LT(took, 10s) << "gotrace did not end promptly at the exec: " << text;
  int pid = target.pid();
  EXPECT_NE(text.find(fmt::format("gotrace: traced pid {} for ", pid)), std::string::npos) << text;
  EXPECT_NE(text.find("(until it exec'd)"), std::string::npos) << text;
  EXPECT_EQ(text.find("exited"), std::string::npos) << text;
  EXPECT_NE(text.find("; 0 events lost"), std::string::npos) << text;
  EXPECT_NE(text.find(fmt::format("gotrace: pid {} exec'd '{}' at ", pid, canonical(next))), std::string::npos)
      << text;
  EXPECT_NE(text.find(fmt::format("`gotrace attach {}` traces the new program", pid)), std::string::npos) << text;

  std::string stacks = tracer.folded();
  EXPECT_EQ(folded_count_at(stacks, "main.siteBeforeExec"), kExecAllocations) << stacks.substr(0, 3000);
  EXPECT_EQ(stacks.find("main.siteSteady"), std::string::npos) << "the new program's allocations were recorded";
  expect_pprof_has(pprof.path(), "main.siteBeforeExec");

  // The code compared is the new image's: a re-exec of the same file had the
  // breakpoints put back in it.
  EXPECT_TRUE(check.nothing_left({target.pid()}));
  target.close_stdin();
  EXPECT_EQ(target.wait(), 0);
}

TEST(TargetExec, AttachEndsWhenAPieProgramReexecsItself) {
  REQUIRE_BPF_PRIVILEGES();
  std::string pie = local_build("allocs", "pie");
  expect_attach_ends_at_exec(pie, pie);
}

// Without the exec watcher, a re-exec'd binary gets its breakpoints back and
// gotrace records the new image's allocations as the old one's.
TEST(TargetExec, AttachEndsWhenAProgramReexecsItself) {
  REQUIRE_BPF_PRIVILEGES();
  std::string plain = local_build("allocs", "plain");
  expect_attach_ends_at_exec(plain, plain);
}

TEST(TargetExec, AttachEndsWhenTheTargetExecsAnotherProgram) {
  REQUIRE_BPF_PRIVILEGES();
  expect_attach_ends_at_exec(local_build("allocs", "plain"), local_build("allocs", "pie"));
}

// Under `run` the trace ends at the exec as well, but gotrace waits for the
// program's exit, passes on the signals it is sent, and exits with its status.
TEST(TargetExec, RunStopsTracingAtTheExecAndWaitsForTheProgram) {
  REQUIRE_BPF_PRIVILEGES();
  std::string plain = local_build("allocs", "plain"), pie = local_build("allocs", "pie");
  LeftoverCheck check;
  ScratchFile err("run-exec.err"), folded("run-exec.folded");
  ChildProcess tracer(
      tracer_argv(err.path(), {"run", "--folded", folded.path(), "--", plain, "exec-on-signal", "3000", pie, "steady"}));
  tracer.read_until("ready");  // the program's stdout is gotrace's
  pid_t program = first_child(tracer.pid());
  ASSERT_GT(program, 0) << read_file(err.path());
  expect_tracing_with_exec_watcher(tracer.pid(), program);

  Watchdog watchdog(tracer.pid(), 60s);
  kill(program, SIGUSR1);
  tracer.read_until("steady");
  std::string exec_line = fmt::format("gotrace: pid {} exec'd '{}' at ", program, canonical(pie));
  ASSERT_TRUE(wait_for_text(err.path(), exec_line, 20s)) << read_file(err.path());
  EXPECT_TRUE(wait_for_text(err.path(), "gotrace waits for it to exit, and exits with its status", 1s));
  // The summary is out but the program runs on, and gotrace with it: its
  // status, once SIGTERM sent to gotrace has reached it, is gotrace's.
  std::this_thread::sleep_for(200ms);
  kill(tracer.pid(), SIGTERM);
  int status = tracer.wait();
  watchdog.disarm();
  std::string text = read_file(err.path());
  EXPECT_FALSE(watchdog.fired()) << text;
  EXPECT_EQ(status, 128 + SIGTERM) << text;
  EXPECT_NE(text.find("(until it exec'd)"), std::string::npos) << text;
  std::string stacks = folded.read();
  EXPECT_EQ(folded_count_at(stacks, "main.siteBeforeExec"), 3000u) << stacks.substr(0, 3000);
  EXPECT_EQ(stacks.find("main.siteSteady"), std::string::npos) << "the new program's allocations were recorded";
  EXPECT_TRUE(check.nothing_left({}));
}

// A panic is an exit: the summary says so, and every allocation before it is
// in the files.
TEST(TargetEnd, PanicEndsTheTraceWithEveryAllocationBeforeIt) {
  REQUIRE_BPF_PRIVILEGES();
  ChildProcess target({local_build("allocs", "pie"), "panic-on-signal", "4000"});
  target.read_until("ready");
  LeftoverCheck check;
  AttachedTracer tracer(target.pid(), "panic");
  ASSERT_TRUE(tracer.wait_attached()) << tracer.err();
  kill(target.pid(), SIGUSR1);
  EXPECT_EQ(target.wait(), 2);  // Go's status for a panic
  int status = tracer.wait(30s);
  std::string text = tracer.err();
  EXPECT_EQ(status, 0) << text;
  EXPECT_NE(text.find("(until it exited)"), std::string::npos) << text;
  EXPECT_EQ(text.find("exec'd"), std::string::npos) << text;
  EXPECT_NE(text.find("; 0 events lost"), std::string::npos) << text;
  EXPECT_EQ(folded_count_at(tracer.folded(), "main.siteBeforePanic"), 4000u) << tracer.folded().substr(0, 3000);
  EXPECT_TRUE(check.nothing_left({}));
}

// Lets `tracer` trace `target` for 300 ms once attached, then stops the
// target (SIGSTOP).
void trace_then_stop(pid_t target, AttachedTracer& tracer) {
  ASSERT_TRUE(tracer.wait_attached()) << tracer.err();
  std::this_thread::sleep_for(300ms);
  kill(target, SIGSTOP);
  wait_until_stopped(target);
}

// steady allocates at A three times for each B: a stop and a continue in the
// middle of a trace must not lose any, nor end the trace.
TEST(StoppedTarget, StopAndContinueLoseNothing) {
  REQUIRE_BPF_PRIVILEGES();
  ChildProcess target({local_build("allocs", "pie"), "steady"});
  target.read_until("steady");
  LeftoverCheck check;
  AttachedTracer tracer(target.pid(), "stop");
  ASSERT_NO_FATAL_FAILURE(trace_then_stop(target.pid(), tracer));
  std::this_thread::sleep_for(500ms);
  kill(target.pid(), SIGCONT);
  std::this_thread::sleep_for(500ms);
  std::string text = tracer.interrupt(30s);
  EXPECT_EQ(text.find("(until"), std::string::npos) << text;
  std::string stacks = tracer.folded();
  double a = double(folded_count_at(stacks, "main.siteSteadyA")), b = double(folded_count_at(stacks, "main.siteSteadyB"));
  ASSERT_GT(b, 1000) << stacks.substr(0, 3000);
  EXPECT_NEAR(a / b, 3.0, 0.01);
  EXPECT_TRUE(check.nothing_left({target.pid()}));
  target.close_stdin();
  EXPECT_EQ(target.wait(), 0);
}

// Ctrl-C while the target is stopped: gotrace detaches from a process that
// cannot run, writes what it has, and the target, continued, is unharmed.
TEST(StoppedTarget, InterruptedWhileTheTargetIsStopped) {
  REQUIRE_BPF_PRIVILEGES();
  ChildProcess target({local_build("allocs", "plain"), "steady"});
  target.read_until("steady");
  LeftoverCheck check;
  AttachedTracer tracer(target.pid(), "stopped");
  ASSERT_NO_FATAL_FAILURE(trace_then_stop(target.pid(), tracer));
  tracer.interrupt(20s);  // a hang on a stopped target fails here
  EXPECT_GT(folded_count_at(tracer.folded(), "main.siteSteadyA"), 0u) << tracer.folded().substr(0, 3000);
  EXPECT_TRUE(check.nothing_left({target.pid()}));  // its code read while it is still stopped
  EXPECT_EQ(process_state(target.pid()), 'T');
  kill(target.pid(), SIGCONT);
  target.close_stdin();
  EXPECT_EQ(target.wait(), 0);
}

}  // namespace
}  // namespace gotrace
