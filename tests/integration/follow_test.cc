// gotrace run --follow: a program and every Go program it starts, each
// traced from its first instruction and labelled with its own pid and name.
// The spawner fixture starts, all at once, the allocs fixture built by the
// oldest and by the newest Go release of the matrix and a program that is
// not Go (/bin/true); each allocs child writes its own report to a file
// named after its pid, which is held to that child's samples alone (the
// profile restricted to its pid label) as a traced run of allocs alone is
// held to the whole profile (traced_run.h). That each was probed before its
// first instruction shows in its allocations under runtime.schedinit, the
// runtime's bootstrap.
//
// These need root (or CAP_SYS_ADMIN). CI runs as
// root; a developer run without them skips with the reason printed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/allocs_report.h"
#include "tests/integration/pprof_raw.h"
#include "tests/integration/traced_run.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

using namespace testing;

// "go1.19.8" as {1, 19, 8}, to order releases (go1.9 before go1.19).
std::vector<int> release_numbers(const std::string& go_version) {
  std::vector<int> numbers;
  std::istringstream parts(go_version.substr(2));
  for (std::string part; std::getline(parts, part, '.');) numbers.push_back(std::atoi(part.c_str()));
  return numbers;
}

// The plain builds of allocs by the oldest and the newest release of the matrix.
std::pair<FixtureBuild, FixtureBuild> oldest_and_newest_allocs() {
  std::vector<FixtureBuild> plain;
  for (const FixtureBuild& build : fixture_builds("allocs"))
    if (build.variant == "plain") plain.push_back(build);
  auto older = [](const FixtureBuild& a, const FixtureBuild& b) {
    return release_numbers(a.go_version) < release_numbers(b.go_version);
  };
  std::sort(plain.begin(), plain.end(), older);
  return {plain.front(), plain.back()};
}

// A child of the spawner: what it runs (the command and its arguments), the
// name its samples are labelled with ("" for a program that is not Go), and
// its pid once it started.
struct Child {
  std::vector<std::string> argv;
  std::string process;
  std::string pid = "";
};

// What the spawner said on stdout ("spawner PID", then "started PID\tCMD"
// for each child in the order of its command line).
struct Spawned {
  std::string spawner_pid;
  std::vector<std::string> child_pids;
};

Spawned parse_spawner_output(const std::string& out) {
  Spawned spawned;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("spawner ")) spawned.spawner_pid = line.substr(8);
    if (line.starts_with("started ")) spawned.child_pids.push_back(line.substr(8, line.find('\t') - 8));
  }
  return spawned;
}

// One run of `gotrace run --follow MODE... -- spawner OUTDIR CHILDREN`, the
// children's pids filled in from what the spawner said.
struct FollowedRun {
  CommandResult result;
  std::string spawner_pid;
  std::vector<Child> children;
  // Whether the spawner said its own pid and every child's.
  bool all_started() const {
    return !spawner_pid.empty() && std::all_of(children.begin(), children.end(), [](const Child& child) {
      return !child.pid.empty();
    });
  }
};

FollowedRun run_followed(const std::vector<std::string>& gotrace_args, const std::string& outdir,
                         std::vector<Child> children) {
  std::vector<std::string> argv = {"run", "--follow"};
  argv.insert(argv.end(), gotrace_args.begin(), gotrace_args.end());
  argv.insert(argv.end(), {"--", local_build("spawner", "plain"), outdir});
  for (const Child& child : children) {
    if (&child != &children.front()) argv.push_back("::");
    argv.insert(argv.end(), child.argv.begin(), child.argv.end());
  }
  FollowedRun run{run_gotrace(argv), "", std::move(children)};
  Spawned spawned = parse_spawner_output(run.result.out);
  run.spawner_pid = spawned.spawner_pid;
  for (size_t i = 0; i < run.children.size() && i < spawned.child_pids.size(); ++i)
    run.children[i].pid = spawned.child_pids[i];
  return run;
}

// Every sample names its process by pid and executable name; the processes
// are exactly `names` (pid → name), each with allocations of its own; and
// all carry the same container label, or none (the children share the
// spawner's cgroup).
void expect_labelled_by_process(const std::string& profile, const std::map<std::string, std::string>& names) {
  std::map<std::string, int64_t> objects_by_pid;
  std::set<std::string> containers;  // "(none)" for a sample without one
  int64_t unlabelled = 0;
  for (const LabelledSample& sample : read_pprof_labels(profile)) {
    auto pid = sample.labels.find("pid"), process = sample.labels.find("process");
    if (pid == sample.labels.end() || process == sample.labels.end()) {
      ++unlabelled;
      continue;
    }
    auto container = sample.labels.find("container");
    containers.insert(container == sample.labels.end() ? "(none)" : container->second);
    objects_by_pid[pid->second] += sample.totals.objects;
    auto name = names.find(pid->second);
    if (name == names.end()) {
      ADD_FAILURE() << "a sample of pid " << pid->second << " (" << process->second << "), not a process traced";
    } else {
      EXPECT_EQ(process->second, name->second) << "pid " << pid->second;
    }
  }
  EXPECT_EQ(unlabelled, 0) << "samples without a pid or process label";
  std::string container_list;
  for (const std::string& container : containers) container_list += " '" + container + "'";
  EXPECT_EQ(containers.size(), 1u) << "container labels:" << container_list;
  for (const auto& [pid, name] : names) EXPECT_GT(objects_by_pid[pid], 0) << "no allocations of " << name << " " << pid;
}

// The folded lines of one process ("NAME:PID;" first), without that frame;
// and that every line starts with the frame of one of `names`' processes.
std::map<std::string, std::string> folded_by_process(const std::string& folded,
                                                     const std::map<std::string, std::string>& names) {
  std::map<std::string, std::string> by_pid;
  std::istringstream lines(folded);
  int64_t strays = 0;
  for (std::string line; std::getline(lines, line);) {
    size_t colon = line.find(':'), semicolon = line.find(';');
    std::string pid = colon < semicolon ? line.substr(colon + 1, semicolon - colon - 1) : "";
    auto name = names.find(pid);
    if (semicolon == std::string::npos || name == names.end() || line.substr(0, colon) != name->second) {
      if (++strays <= 3) ADD_FAILURE() << "a folded line without a traced process's frame: " << line.substr(0, 200);
      continue;
    }
    by_pid[pid] += line.substr(semicolon + 1) + "\n";
  }
  EXPECT_LE(strays, 3) << "folded lines without a traced process's frame";
  return by_pid;
}

// What every run shares: the note about each child that is not Go, and the
// process labels of the spawner, its Go children and `grandchildren` (pid →
// name). Returns pid → name of every process traced.
std::map<std::string, std::string> expect_followed(const FollowedRun& run, const std::string& pprof,
                                                   std::map<std::string, std::string> grandchildren = {}) {
  std::map<std::string, std::string> names = std::move(grandchildren);
  names[run.spawner_pid] = "spawner";
  for (const Child& child : run.children) {
    if (!child.process.empty()) {
      names[child.pid] = child.process;
      continue;
    }
    // The name is the executable's, which for /bin/sh may be its link's target.
    size_t note = run.result.err.find(fmt::format("gotrace: pid {} (", child.pid));
    size_t line_end = run.result.err.find('\n', note);
    EXPECT_TRUE(note != std::string::npos &&
                run.result.err.substr(note, line_end - note).ends_with("): not traced: not a Go program"))
        << "no note about pid " << child.pid << " (" << child.argv.front() << "):\n"
        << run.result.err;
  }
  // Every run ends its command line with /bin/true: there the name is sure.
  EXPECT_NE(run.result.err.find(fmt::format("gotrace: pid {} (true): not traced: not a Go program\n",
                                            run.children.back().pid)),
            std::string::npos)
      << run.result.err;
  expect_labelled_by_process(pprof, names);
  return names;
}

// A child that is not Go and starts a Go program itself, in the background:
// /bin/sh running `PROGRAM >OUTDIR/grandchild.out`, with the grandchild's pid
// in OUTDIR/grandchild.pid.
Child shell_starting(const std::string& program, const std::string& outdir) {
  const char* script = "\"$1\" >\"$0/grandchild.out\" & echo $! >\"$0/grandchild.pid\"; wait $!";
  return {{"/bin/sh", "-c", script, outdir, program}, ""};
}

// The allocations of one process made under runtime.schedinit, the
// runtime's bootstrap, before any Go code of the program runs: seen only
// where the probes were in place before the program's first instruction.
int64_t bootstrap_allocations(const std::string& profile, const std::string& pid) {
  int64_t objects = 0;
  for (const auto& [stack, totals] : read_pprof_stacks(profile, {{"pid", pid}}))
    for (const StackFrame& frame : stack)
      if (frame.first == "runtime.schedinit") {
        objects += totals.objects;
        break;
      }
  return objects;
}

TEST(Follow, EachGoChildIsTracedExactlyUnderItsOwnPid) {
  REQUIRE_BPF_PRIVILEGES();
  auto [oldest, newest] = oldest_and_newest_allocs();
  ScratchDirectory outdir("follow-exact");
  ScratchFile pprof("follow.pb.gz"), folded("follow.folded");
  // The newest build twice, the second time below a shell: one binary in
  // two processes at once, and a Go program started further down, by a
  // program that is not Go.
  FollowedRun run = run_followed(
      {"--exact", "-o", pprof.path(), "--folded", folded.path(), "--folded-process"}, outdir.path(),
      {{{oldest.path}, "allocs"}, {{newest.path}, "allocs"}, shell_starting(newest.path, outdir.path()),
       {{"/bin/true"}, ""}});
  ASSERT_EQ(run.result.exit_code, 0) << run.result.err;
  ASSERT_TRUE(run.all_started()) << "the spawner said:\n" << run.result.out;
  std::string grandchild = read_file(outdir.path() + "/grandchild.pid");
  grandchild = grandchild.substr(0, grandchild.find('\n'));
  ASSERT_FALSE(grandchild.empty()) << "the shell wrote no grandchild.pid";
  auto names = expect_followed(run, pprof.path(), {{grandchild, "allocs"}});
  auto folded_of = folded_by_process(folded.read(), names);
  EXPECT_FALSE(folded_of[run.spawner_pid].empty()) << "no folded stacks of the spawner";

  struct Traced {
    std::string label, pid, output;
  };
  for (const Traced& traced : {Traced{oldest.label(), run.children[0].pid, run.children[0].pid + ".out"},
                               Traced{newest.label(), run.children[1].pid, run.children[1].pid + ".out"},
                               Traced{newest.label() + " below /bin/sh", grandchild, "grandchild.out"}}) {
    SCOPED_TRACE(traced.label + ", pid " + traced.pid);
    const std::string& pid = traced.pid;
    AllocsReport report = parse_allocs_report(read_file(outdir.path() + "/" + traced.output));
    ASSERT_GE(report.expected.size(), 10u) << read_file(outdir.path() + "/" + traced.output);
    EXPECT_EQ(report.collections, 0);
    PprofSites got = read_pprof_sites(pprof.path(), {{"pid", pid}});
    expect_objects_at_every_site(report, got, false, run.result.err);
    expect_sites_match_the_runtime(report, got, false);
    expect_types_at_every_site(report, got);
    expect_folded_stacks(report, folded_of[pid], false);
    EXPECT_GT(bootstrap_allocations(pprof.path(), pid), 0)
        << "no allocation of the runtime's bootstrap: not traced from the first instruction";
  }
}

TEST(Follow, HeapModeGivesEachGoChildItsSamplesAndWhatItKeeps) {
  REQUIRE_BPF_PRIVILEGES();
  // allocs sets MemProfileRate to 1: --heap sees every allocation the
  // runtime's own profile has, and in keep mode what is in use, exactly.
  auto [oldest, newest] = oldest_and_newest_allocs();
  ScratchDirectory outdir("follow-heap");
  ScratchFile pprof("follow-heap.pb.gz");
  FollowedRun run = run_followed({"--heap", "-o", pprof.path()}, outdir.path(),
                                 {{{oldest.path}, "allocs"},
                                  {{newest.path}, "allocs"},
                                  {{oldest.path, "keep"}, "allocs"},
                                  {{newest.path, "keep"}, "allocs"},
                                  {{"/bin/true"}, ""}});
  ASSERT_EQ(run.result.exit_code, 0) << run.result.err;
  ASSERT_TRUE(run.all_started()) << "the spawner said:\n" << run.result.out;
  expect_followed(run, pprof.path());

  for (size_t i = 0; i < 4; ++i) {
    const Child& child = run.children[i];
    bool keep = child.argv.size() > 1;
    SCOPED_TRACE((i % 2 == 0 ? oldest : newest).label() + (keep ? " keep" : "") + ", pid " + child.pid);
    AllocsReport report = parse_allocs_report(read_file(outdir.path() + "/" + child.pid + ".out"));
    ASSERT_GE(report.expected.size(), keep ? 2u : 10u) << read_file(outdir.path() + "/" + child.pid + ".err");
    PprofSites got = read_pprof_sites(pprof.path(), {{"pid", child.pid}});
    if (keep) {
      expect_in_use_is_what_keep_kept(report, got);
      // Its line of the summary ends with its own peak.
      size_t line = run.result.err.find(fmt::format("gotrace:   pid {} (allocs): ", child.pid));
      ASSERT_NE(line, std::string::npos) << run.result.err;
      std::string text = run.result.err.substr(line, run.result.err.find('\n', line) - line);
      EXPECT_NE(text.find("; in use at the peak ("), std::string::npos) << text;
    } else {
      expect_sampled_sites_equal_the_runtime(report, got);
    }
  }
}

}  // namespace
}  // namespace gotrace
