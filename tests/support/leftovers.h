// Whether gotrace left anything behind once it exited or was killed: a BPF
// program, map, link or perf event of its probe on the host, or a probe
// still in place in a target's code (target_code.h).
//
// The host may run other traces meanwhile (a colleague's test run, a
// production trace): a BPF object of gotrace's that a running gotrace
// process holds is that trace's, and one that was there before the check
// was set up is not the test's either. What the kernel releases after a
// process's exit it releases a moment later (deferred work, RCU), so the
// check waits a bounded time for it.
#pragma once

#include <sys/types.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace gotrace::testing {

// gotrace's BPF objects on this host, by id, as `bpftool -j` lists them:
// its programs (the allocation probe's and the exec watcher's, named as in
// bpf/alloc_probe.bpf.c and bpf/exec_watch.bpf.c), their maps (by name), the
// links and perf events that run its programs, and the processes that hold
// each through a file descriptor.
struct GotraceBpfObjects {
  std::string error;  // why bpftool could not list them; empty when it could
  std::set<uint32_t> programs, maps, links;
  std::map<uint32_t, std::string> program_names;  // of `programs`, by id, as bpftool shows them
  std::vector<std::string> perf_events;  // "pid 12 fd 7: uprobe FILE+0x7d24a (program 5)"
};

// All on the host but the perf events that a running gotrace holds (a trace
// going on).
GotraceBpfObjects gotrace_bpf_objects();
// Those that process `pid` holds through a descriptor: what a running
// gotrace has loaded and attached.
GotraceBpfObjects gotrace_bpf_objects_held_by(pid_t pid);

class LeftoverCheck {
 public:
  // Notes the gotrace BPF objects already on the host: they are not the test's.
  LeftoverCheck();

  // What gotrace left behind, one description each; empty when nothing: a
  // BPF object of gotrace's that was not there when this check was made and
  // that no running gotrace holds, and, for each of `targets`, code that
  // differs from its binary's file. Waits up to `grace` for the kernel to
  // release what an exited gotrace held.
  std::vector<std::string> leftovers(const std::vector<pid_t>& targets,
                                     std::chrono::milliseconds grace = std::chrono::seconds(10)) const;
  // The same as an assertion: success when nothing is left, else the list.
  ::testing::AssertionResult nothing_left(const std::vector<pid_t>& targets) const;

 private:
  GotraceBpfObjects before_;
};

}  // namespace gotrace::testing
