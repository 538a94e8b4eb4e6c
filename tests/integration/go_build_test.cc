// gotrace run --follow on a real `go build -a`: the question the follow mode
// is for, "where does the Go compiler allocate?". A module written into a
// scratch directory (a main importing strconv, strings and sort: with -a,
// the runtime and the rest, some 45 packages of the standard library) is
// built by the machine's go, as scripts/bench-build.sh builds
// tests/bench/buildmodule: an empty GOCACHE of its own, so that every
// package really is compiled, one `compile` process each; cgo off, so that
// no C compiler runs; GOTOOLCHAIN=local, GOWORK=off, -buildvcs=false.
//
// Under --heap (the runtime's own heap-profile samples: each process pays a
// trap per 512 KiB allocated), with the compiler asked for a memory profile
// (-gcflags=all=-memprofile=/dev/null: else it turns its heap profiling off
// at its start, and the summary says so), the profile must hold a compile process for
// most packages (at least half of what `go list -deps` names), each under
// its own pid and name and each with allocations in cmd/compile/internal;
// the summary a line for each; and `go tool pprof -tagfocus=process=compile`
// must name a cmd/compile/internal function among the top sites. Programs
// the build runs that gotrace leaves untraced are noted on stderr, not
// failures: the go command and `asm` link no runtime/pprof, so their heap
// profiling is off. The go command's label is checked by a second, exact,
// trace of the same build with the cache full, which runs the go command
// and the linker only.
//
// The whole `go build -a` is traced in heap mode only: exact mode traps on
// every allocation of every compiler, 14 million for this module, and took
// 66 s here against 13 to 16 s untraced (2 CPUs shared with other work),
// too long for this tier; the heap run took 11 to 17 s.
//
// These need root (or CAP_SYS_ADMIN). CI runs as root; a developer run
// without them skips with the reason printed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tests/integration/pprof_raw.h"
#include "tests/integration/pprof_top.h"
#include "tests/support/child_process.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;

// The module built: small enough that the traced build stays well within
// a minute here, large enough for some 45 compile processes.
constexpr const char* kGoMod = "module gotrace.test/gobuild\n\ngo 1.19\n";
constexpr const char* kMainGo = R"(// Built, never run, by tests/integration/go_build_test.cc.
package main

import (
	"sort"
	"strconv"
	"strings"
)

func main() {
	words := strings.Fields("gotrace follows the build")
	sort.Strings(words)
	println(strconv.Itoa(len(words)) + " " + strings.Join(words, ","))
}
)";

// Sets environment variables for as long as it lives, then puts back what
// was there: gotrace hands its environment on to the command it runs, and
// under `env` the traced command would be a program that execs go.
class ScopedEnvironment {
 public:
  explicit ScopedEnvironment(const std::map<std::string, std::string>& values) {
    for (const auto& [name, value] : values) {
      const char* old = std::getenv(name.c_str());
      saved_[name] = old != nullptr ? std::optional<std::string>(old) : std::nullopt;
      setenv(name.c_str(), value.c_str(), 1);
    }
  }
  ~ScopedEnvironment() {
    for (const auto& [name, old] : saved_) old ? setenv(name.c_str(), old->c_str(), 1) : unsetenv(name.c_str());
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

// The first line of `text`.
std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// The go other tests run (the one on PATH), by its absolute path: the
// binary gotrace starts, whose process is labelled `go`.
std::string go_binary() {
  CommandResult goroot = run_command({"go", "env", "GOROOT"});
  EXPECT_EQ(goroot.exit_code, 0) << goroot.err;
  return first_line(goroot.out) + "/bin/go";
}

// What the profile says of one process: its name, its samples, and whether
// any of them has a frame in the compiler's or the go command's own packages.
struct TracedProcess {
  std::string name;
  int64_t samples = 0;
  bool in_compiler = false;    // a frame in cmd/compile/internal
  bool in_go_command = false;  // a frame in cmd/go/internal
};

bool has_frame_in(const Stack& stack, const std::string& package_prefix) {
  for (const StackFrame& frame : stack)
    if (frame.first.starts_with(package_prefix)) return true;
  return false;
}

// Every sample's process by pid; every sample must carry a pid and a
// process label, and a pid one name only.
std::map<std::string, TracedProcess> processes_in_profile(const std::string& profile) {
  std::map<std::string, TracedProcess> processes;
  int64_t unlabelled = 0;
  for (const LabelledSample& sample : read_pprof_labels(profile)) {
    auto pid = sample.labels.find("pid"), process = sample.labels.find("process");
    if (pid == sample.labels.end() || process == sample.labels.end()) {
      ++unlabelled;
      continue;
    }
    TracedProcess& traced = processes[pid->second];
    if (traced.name.empty()) traced.name = process->second;
    EXPECT_EQ(process->second, traced.name) << "pid " << pid->second << " under two names";
    ++traced.samples;
    traced.in_compiler |= has_frame_in(sample.stack, "cmd/compile/internal/");
    traced.in_go_command |= has_frame_in(sample.stack, "cmd/go/internal/");
  }
  EXPECT_EQ(unlabelled, 0) << "samples without a pid or process label";
  return processes;
}

// The summary's line of each process ("gotrace:   pid N (NAME): ..."), by
// pid, and the notes of programs left untraced ("gotrace: pid N (NAME):
// not traced: WHY").
struct Stderr {
  std::map<std::string, std::string> summary_names;
  std::vector<std::string> notes;
};

Stderr parse_stderr(const std::string& err) {
  Stderr parsed;
  std::istringstream lines(err);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("): not traced: ") != std::string::npos) parsed.notes.push_back(line);
    if (!line.starts_with("gotrace:   pid ")) continue;
    size_t pid_end = line.find(" (", 15), name_end = line.find("): ", pid_end);
    if (pid_end == std::string::npos || name_end == std::string::npos) continue;
    parsed.summary_names[line.substr(15, pid_end - 15)] = line.substr(pid_end + 2, name_end - pid_end - 2);
  }
  return parsed;
}

// The module, its build cache and where its binary goes, in a scratch
// directory, with the environment the build runs in.
struct BuildSetup {
  ScratchDirectory work{"go-build"};
  std::string module = work.path() + "/module";
  std::string binary = work.path() + "/gobuild";
  std::string profile = work.path() + "/build.pb.gz";
  // Set for the go commands of the build alone: `go tool pprof` is built
  // on demand by recent releases, into the build cache, and with an empty
  // one would take longer to build than the whole traced build.
  std::map<std::string, std::string> environment = {{"GOCACHE", work.path() + "/gocache"},
                                                    {"GOWORK", "off"},
                                                    {"GOFLAGS", "-buildvcs=false"},
                                                    {"CGO_ENABLED", "0"},
                                                    {"GOTOOLCHAIN", "local"}};
  BuildSetup() {
    std::filesystem::create_directories(module);
    std::filesystem::create_directories(work.path() + "/gocache");
    std::ofstream(module + "/go.mod") << kGoMod;
    std::ofstream(module + "/main.go") << kMainGo;
  }
};

// How many packages `go build` compiles there: every one `go list -deps`
// names but unsafe, which has no code.
int count_packages(const BuildSetup& setup, const std::string& go) {
  ScopedEnvironment environment(setup.environment);
  CommandResult listed = run_command({go, "-C", setup.module, "list", "-deps", "."});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  int packages = 0;
  std::istringstream lines(listed.out);
  for (std::string line; std::getline(lines, line);) packages += !line.empty() && line != "unsafe";
  return packages;
}

// `gotrace run --follow MODE -o PROFILE -- go -C MODULE build ARGS -o BINARY .`,
// timed; the build must succeed and write its binary.
CommandResult traced_build(const BuildSetup& setup, const std::string& go, const std::string& mode,
                           const std::vector<std::string>& build_args, double* seconds) {
  std::vector<std::string> argv = {"run", "--follow", mode, "-o", setup.profile, "--", go, "-C", setup.module, "build"};
  argv.insert(argv.end(), build_args.begin(), build_args.end());
  argv.insert(argv.end(), {"-o", setup.binary, "."});
  std::filesystem::remove(setup.binary);
  ScopedEnvironment environment(setup.environment);
  auto start = std::chrono::steady_clock::now();
  CommandResult run = run_gotrace(argv);
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(std::filesystem::exists(setup.binary)) << "the build wrote no binary:\n" << run.err;
  return run;
}

// Every process of the profile has the summary's line, under the same
// name; every compile process allocated in the compiler's own packages.
// Returns the pids labelled `name`.
std::set<std::string> expect_summarized(const std::map<std::string, TracedProcess>& processes, const Stderr& err,
                                        const std::string& name) {
  std::set<std::string> named;
  for (const auto& [pid, process] : processes) {
    if (process.name == name) named.insert(pid);
    auto summary = err.summary_names.find(pid);
    if (summary == err.summary_names.end()) {
      ADD_FAILURE() << "no summary line of pid " << pid << " (" << process.name << ")";
    } else {
      EXPECT_EQ(summary->second, process.name) << "the summary's name of pid " << pid;
    }
    if (process.name == "compile") {
      EXPECT_TRUE(process.in_compiler) << "compile pid " << pid << ": none of its " << process.samples
                                       << " samples has a frame in cmd/compile/internal";
    }
  }
  return named;
}

// The compiler's own functions among its top 10 sites, as `go tool pprof
// -tagfocus=process=compile -top` shows them.
void expect_compiler_sites_on_top(const std::string& profile) {
  PprofTop top = read_pprof_top(profile, "alloc_space", {"-tagfocus=process=compile"});
  // Not a package's initialization alone, which runs before the compiler
  // could turn its heap profiling off: what it does once it compiles.
  size_t compiler_rows = 0;
  for (size_t i = 0; i < top.rows.size() && i < 10; ++i) {
    const std::string& function = top.rows[i].function;
    compiler_rows += function.starts_with("cmd/compile/internal/") && !function.ends_with(".init") &&
                     function.find(".init.") == std::string::npos;
  }
  EXPECT_GT(compiler_rows, 0u) << "no cmd/compile/internal function past its initialization among the top 10:\n"
                               << top.text;
}

TEST(GoBuild, FollowHeapLabelsEveryCompileProcessOfTheBuild) {
  REQUIRE_BPF_PRIVILEGES();
  BuildSetup setup;
  std::string go = go_binary();
  int packages = count_packages(setup, go);
  ASSERT_GE(packages, 20) << "go list -deps of the module";

  double seconds = 0;
  // The compiler turns its heap profiling off at its start unless asked for
  // a memory profile: asked for one, it samples all it does.
  const std::string memory_profile = "-gcflags=all=-memprofile=/dev/null";
  CommandResult run = traced_build(setup, go, "--heap", {"-a", memory_profile}, &seconds);
  ASSERT_EQ(run.exit_code, 0);
  std::map<std::string, TracedProcess> processes = processes_in_profile(setup.profile);
  Stderr err = parse_stderr(run.err);
  std::set<std::string> compiles = expect_summarized(processes, err, "compile");
  std::cout << fmt::format("go build -a of {} packages under run --follow --heap: {:.1f} s; {} compile processes "
                           "among {} processes in the profile, {} in the summary\n",
                           packages, seconds, compiles.size(), processes.size(), err.summary_names.size());
  for (const std::string& note : err.notes) std::cout << "noted: " << note.substr(0, 160) << "\n";
  EXPECT_GE(compiles.size() * 2, size_t(packages)) << "compile processes in the profile, of " << packages
                                                    << " packages compiled:\n" << run.err;
  expect_compiler_sites_on_top(setup.profile);
  EXPECT_EQ(run.err.find("heap profiling turned off by the program"), std::string::npos) << run.err;
  // The go command links no runtime/pprof, so its runtime samples nothing:
  // --heap notes it and leaves it be; the exact run below traces it.
  bool go_noted = false;
  for (const std::string& note : err.notes) {
    EXPECT_EQ(note.find(" (compile): "), std::string::npos) << "a compile process left untraced: " << note;
    go_noted |= note.find(" (go): not traced: ") != std::string::npos &&
                note.find("heap profiling is off") != std::string::npos;
  }
  EXPECT_TRUE(go_noted) << "no note of the go command, whose heap profiling is off:\n" << run.err;

  // The same build again, the cache now full: only the go command works
  // (and link, and `compile -V=full` for the tools' ids), traced exactly in
  // seconds where all of `go build -a` would take minutes. The go command is
  // labelled go and allocates in its own packages.
  run = traced_build(setup, go, "--exact", {memory_profile}, &seconds);  // the flags of the build cached
  ASSERT_EQ(run.exit_code, 0);
  processes = processes_in_profile(setup.profile);
  err = parse_stderr(run.err);
  std::set<std::string> go_commands = expect_summarized(processes, err, "go");
  std::cout << fmt::format("the same build, cached, under run --follow --exact: {:.1f} s\n", seconds);
  ASSERT_EQ(go_commands.size(), 1u) << "processes labelled go:\n" << run.err;
  EXPECT_GT(processes[*go_commands.begin()].samples, 0);
  EXPECT_TRUE(processes[*go_commands.begin()].in_go_command)
      << "none of the go command's samples has a frame in cmd/go/internal";
}

}  // namespace
}  // namespace gotrace
