#include "tests/support/leftovers.h"

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <optional>
#include <string_view>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "tests/support/child_process.h"
#include "tests/support/target_code.h"

namespace gotrace::testing {
namespace {

using nlohmann::json;

// The names in bpf/alloc_probe.bpf.c and bpf/process_watch.bpf.c (whose
// ring buffer is the allocation probe's); libbpf names a global data map
// after the first 8 characters of its object. The kernel keeps 15
// characters of a name; bpftool shows the whole name where the program's
// BTF has it.
constexpr std::string_view kProgramNames[] = {"uprobe__go_allocator", "uprobe__heap_sample", "uprobe__heap_free",
                                              "uprobe__heap_cycle",   "uprobe__empty",       "watch_exec",
                                              "watch_fork",           "watch_exit"};
constexpr std::string_view kMapNames[] = {
    "alloc_events", "process_stats", "process_images",  "unattributed_counters", "bytes_until_sample",
    "sample_intervals", "scratch",   "alloc_pr.rodata", "alloc_pr.bss",          "watched",
    "stopped",      "process_.rodata", "process_.bss"};

bool is_named(const std::string& name, std::span<const std::string_view> names) {
  if (name.empty()) return false;
  return std::any_of(names.begin(), names.end(), [&](std::string_view full) {
    return full.starts_with(name) && name.size() >= std::min<size_t>(full.size(), 15);
  });
}

// `bpftool -j <object> show` as JSON; an error text when it fails.
json bpftool_list(const std::string& object, std::string* error) {
  CommandResult listed = run_command({"bpftool", "-j", object, "show"});
  json parsed = json::parse(listed.out, nullptr, /*allow_exceptions=*/false);
  if (listed.exit_code != 0 || !parsed.is_array()) {
    *error = fmt::format("bpftool {} show failed ({}): {}", object, listed.exit_code, listed.err);
    return json::array();
  }
  return parsed;
}

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

bool runs_gotrace(int pid) { return read_line(fmt::format("/proc/{}/comm", pid)) == "gotrace"; }

// BPF object ids by kind: a program, a map and a link may have the same id.
struct HeldIds {
  std::set<uint32_t> programs, maps, links;
};

// Adds the ids of the BPF programs, maps and links that process `pid` holds
// through a descriptor, from each descriptor's fdinfo.
void add_held_by(int pid, HeldIds& held) {
  std::string fdinfo = fmt::format("/proc/{}/fdinfo", pid);
  DIR* fds = opendir(fdinfo.c_str());
  if (fds == nullptr) return;
  while (dirent* fd = readdir(fds)) {
    std::ifstream info(fdinfo + "/" + fd->d_name);
    std::string key;
    uint32_t id;
    while (info >> key) {
      std::set<uint32_t>* ids = key == "prog_id:" ? &held.programs
                                : key == "map_id:" ? &held.maps
                                : key == "link_id:" ? &held.links
                                                    : nullptr;
      if (ids != nullptr && info >> id) ids->insert(id);
    }
  }
  closedir(fds);
}

HeldIds held_by_running_gotraces() {
  HeldIds held;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return held;
  while (dirent* entry = readdir(proc)) {
    int pid = std::atoi(entry->d_name);
    if (pid > 0 && runs_gotrace(pid)) add_held_by(pid, held);
  }
  closedir(proc);
  return held;
}

// What `now` has that `before` had not and that no running gotrace holds.
std::vector<std::string> new_unheld(const GotraceBpfObjects& before, const GotraceBpfObjects& now) {
  std::vector<std::string> out;
  if (!now.error.empty()) return {now.error};
  std::optional<HeldIds> held;
  auto report = [&](const char* kind, const std::set<uint32_t>& then, const std::set<uint32_t>& ids,
                    std::set<uint32_t> HeldIds::*held_of_kind) {
    for (uint32_t id : ids) {
      if (then.contains(id)) continue;
      if (!held) held = held_by_running_gotraces();
      if (!((*held).*held_of_kind).contains(id)) out.push_back(fmt::format("BPF {} {}", kind, id));
    }
  };
  report("program", before.programs, now.programs, &HeldIds::programs);
  report("map", before.maps, now.maps, &HeldIds::maps);
  report("link", before.links, now.links, &HeldIds::links);
  for (const std::string& event : now.perf_events)
    if (std::find(before.perf_events.begin(), before.perf_events.end(), event) == before.perf_events.end())
      out.push_back("perf event " + event);
  return out;
}

// gotrace's BPF objects, with the perf events of the processes that `lists_perf_events_of` accepts.
GotraceBpfObjects list_gotrace_bpf_objects(const std::function<bool(int pid)>& lists_perf_events_of) {
  GotraceBpfObjects out;
  for (const json& program : bpftool_list("prog", &out.error)) {
    std::string name = program.value("name", "");
    if (!is_named(name, kProgramNames)) continue;
    out.programs.insert(program.value("id", 0u));
    out.program_names[program.value("id", 0u)] = name;
  }
  for (const json& map : bpftool_list("map", &out.error))
    if (is_named(map.value("name", ""), kMapNames)) out.maps.insert(map.value("id", 0u));
  for (const json& link : bpftool_list("link", &out.error))
    if (out.programs.contains(link.value("prog_id", 0u))) out.links.insert(link.value("id", 0u));
  for (const json& event : bpftool_list("perf", &out.error)) {
    int pid = event.value("pid", 0);
    if (!out.programs.contains(event.value("prog_id", 0u)) || !lists_perf_events_of(pid)) continue;
    out.perf_events.push_back(fmt::format("pid {} fd {}: {} {}+{:#x} (program {})", pid, event.value("fd", 0),
                                          event.value("fd_type", "?"), event.value("filename", "?"),
                                          event.value("offset", uint64_t(0)), event.value("prog_id", 0u)));
  }
  return out;
}

}  // namespace

// A perf event is listed by the process that holds it: one that a running
// gotrace holds is a trace going on.
GotraceBpfObjects gotrace_bpf_objects() {
  return list_gotrace_bpf_objects([](int pid) { return !runs_gotrace(pid); });
}

GotraceBpfObjects gotrace_bpf_objects_held_by(pid_t pid) {
  GotraceBpfObjects out = list_gotrace_bpf_objects([pid](int holder) { return holder == pid; });
  HeldIds held;
  add_held_by(pid, held);
  std::erase_if(out.programs, [&](uint32_t id) { return !held.programs.contains(id); });
  std::erase_if(out.maps, [&](uint32_t id) { return !held.maps.contains(id); });
  std::erase_if(out.links, [&](uint32_t id) { return !held.links.contains(id); });
  std::erase_if(out.program_names, [&](const auto& id_name) { return !held.programs.contains(id_name.first); });
  return out;
}

LeftoverCheck::LeftoverCheck() : before_(gotrace_bpf_objects()) {}

std::vector<std::string> LeftoverCheck::leftovers(const std::vector<pid_t>& targets,
                                                  std::chrono::milliseconds grace) const {
  auto deadline = std::chrono::steady_clock::now() + grace;
  for (;;) {
    std::vector<std::string> left = new_unheld(before_, gotrace_bpf_objects());
    for (pid_t target : targets) {
      CodeComparison code = compare_code_with_file(target);
      if (!code.error.empty() || !code.differences.empty())
        left.push_back(fmt::format("pid {}: code: {}", target, code.describe()));
    }
    if (left.empty() || std::chrono::steady_clock::now() >= deadline) return left;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

::testing::AssertionResult LeftoverCheck::nothing_left(const std::vector<pid_t>& targets) const {
  std::vector<std::string> left = leftovers(targets);
  if (left.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "gotrace left behind:\n" << fmt::format("{}", fmt::join(left, "\n"));
}

}  // namespace gotrace::testing
