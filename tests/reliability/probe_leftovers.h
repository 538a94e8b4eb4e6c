// What a gotrace holds in the kernel while it traces, found with bpftool, and
// whether any of it, or any breakpoint in the target's code, outlives it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace gotrace::testing {

// One uprobe a process holds, as `bpftool perf show` lists it.
struct HeldUprobe {
  uint32_t prog_id = 0;
  std::string filename;  // the file the uprobe is on
  uint64_t offset = 0;   // its file offset
};

// What one gotrace process holds: its uprobes, and the ids of every BPF
// program and link of its objects (the uprobes' programs, and those that
// share a map with them, the exec watcher's among them).
struct HeldByTracer {
  std::vector<HeldUprobe> uprobes;
  std::set<uint32_t> prog_ids;
  std::set<uint32_t> link_ids;
};
HeldByTracer held_by(pid_t tracer);

// The programs and links of `held` that still exist a few seconds after
// the tracer has gone, described; "" when none does.
std::string still_loaded(const HeldByTracer& held);

// The uprobes of `held` whose instruction in process `pid`'s memory differs
// from the file's byte (a breakpoint left behind), described; "" when the
// code is the file's everywhere `pid` maps the probed file.
std::string code_differing_from_file(pid_t pid, const HeldByTracer& held);

}  // namespace gotrace::testing
