// The processes a trace of a whole host (`attach --all`) or of one cgroup
// (`attach --cgroup PATH`: a container, a systemd unit) starts with, and the
// cgroup each process is in, for its `container` label.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace gotrace {

// Every process running now, by pid, ascending.
Result<std::vector<pid_t>> running_processes();

// A cgroup of the unified (v2) hierarchy.
struct Cgroup {
  std::string path;       // inside the hierarchy, as /proc/PID/cgroup says it: "/system.slice/nginx.service"
  std::string directory;  // where it is mounted: "/sys/fs/cgroup/system.slice/nginx.service"
  uint64_t id = 0;        // the kernel's cgroup id, the directory's inode number
  uint32_t level = 0;     // its depth below the root cgroup (0: the root)
};

// The cgroup `name` names: its directory ("/sys/fs/cgroup/system.slice/x")
// or its path inside the hierarchy ("/system.slice/x", "system.slice/x").
// The error names it and says why it is none.
Result<Cgroup> find_cgroup(const std::string& name);

// The processes in `cgroup` and in every cgroup below it, by pid, ascending.
Result<std::vector<pid_t>> processes_in(const Cgroup& cgroup);

// The cgroup (v2) path of a process, "" for the root cgroup or when unknown.
std::string cgroup_of(pid_t pid);

}  // namespace gotrace
