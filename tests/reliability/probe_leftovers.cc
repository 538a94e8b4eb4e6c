#include "tests/reliability/probe_leftovers.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/support/child_process.h"

namespace gotrace::testing {
namespace {

// bpftool's JSON for `args`; an empty array when it fails.
nlohmann::json bpftool_json(std::vector<std::string> args) {
  args.insert(args.begin(), {"bpftool", "-j"});
  CommandResult result = run_command(args);
  if (result.exit_code != 0) return nlohmann::json::array();
  auto parsed = nlohmann::json::parse(result.out, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? nlohmann::json::array() : parsed;
}

std::set<uint32_t> map_ids_of(uint32_t prog_id) {
  auto prog = bpftool_json({"prog", "show", "id", std::to_string(prog_id)});
  std::set<uint32_t> ids;
  if (prog.is_object() && prog.contains("map_ids"))
    for (const auto& id : prog["map_ids"]) ids.insert(id.get<uint32_t>());
  return ids;
}

// The byte at `address` in `pid`'s memory; -1 when unreadable.
int memory_byte(pid_t pid, uint64_t address) {
  int fd = open(fmt::format("/proc/{}/mem", pid).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  unsigned char byte;
  ssize_t n = pread(fd, &byte, 1, off_t(address));
  close(fd);
  return n == 1 ? byte : -1;
}

int file_byte(const std::string& path, uint64_t offset) {
  std::ifstream file(path, std::ios::binary);
  file.seekg(std::streamoff(offset));
  char byte;
  return file.get(byte) ? static_cast<unsigned char>(byte) : -1;
}

}  // namespace

HeldByTracer held_by(pid_t tracer) {
  HeldByTracer held;
  std::set<uint32_t> maps;
  for (const auto& entry : bpftool_json({"perf", "show"})) {
    if (entry.value("pid", 0) != tracer || entry.value("fd_type", "") != "uprobe") continue;
    HeldUprobe uprobe{entry.value("prog_id", 0u), entry.value("filename", ""), entry.value("offset", uint64_t(0))};
    held.uprobes.push_back(uprobe);
    if (held.prog_ids.insert(uprobe.prog_id).second) maps.merge(map_ids_of(uprobe.prog_id));
  }
  // Programs that share a map with the uprobes' belong to the same tracer.
  for (const auto& prog : bpftool_json({"prog", "show"})) {
    if (!prog.contains("map_ids")) continue;
    for (const auto& id : prog["map_ids"])
      if (maps.contains(id.get<uint32_t>())) held.prog_ids.insert(prog["id"].get<uint32_t>());
  }
  for (const auto& link : bpftool_json({"link", "show"}))
    if (held.prog_ids.contains(link.value("prog_id", 0u))) held.link_ids.insert(link["id"].get<uint32_t>());
  return held;
}

std::string still_loaded(const HeldByTracer& held) {
  // The kernel frees a program and its links after the last reference goes,
  // a moment after the process that held them has exited (RCU, deferred
  // work): allow it that moment, a few seconds at most.
  std::string left;
  for (int attempt = 0; attempt < 30; ++attempt) {
    left.clear();
    for (uint32_t id : held.prog_ids)
      if (run_command({"bpftool", "prog", "show", "id", std::to_string(id)}).exit_code == 0)
        left += fmt::format("BPF program {} is still loaded; ", id);
    for (uint32_t id : held.link_ids)
      if (run_command({"bpftool", "link", "show", "id", std::to_string(id)}).exit_code == 0)
        left += fmt::format("BPF link {} still exists; ", id);
    if (left.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return left;
}

std::string code_differing_from_file(pid_t pid, const HeldByTracer& held) {
  std::string differing;
  // The uprobes' files may be named through /proc/<pid>/root or /exe.
  std::vector<std::string> probed;
  for (const HeldUprobe& uprobe : held.uprobes) {
    std::error_code error;
    probed.push_back(std::filesystem::canonical(uprobe.filename, error).string());
  }
  std::ifstream maps(fmt::format("/proc/{}/maps", pid));
  for (std::string line; std::getline(maps, line);) {
    // start-end perms offset dev inode path
    std::istringstream fields(line);
    std::string range, perms, dev, path;
    uint64_t offset = 0, inode = 0;
    fields >> range >> perms >> std::hex >> offset >> dev >> std::dec >> inode >> path;
    uint64_t start = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
    uint64_t end = std::stoull(range.substr(range.find('-') + 1), nullptr, 16);
    for (size_t i = 0; i < held.uprobes.size(); ++i) {
      const HeldUprobe& uprobe = held.uprobes[i];
      if (path != probed[i] || uprobe.offset < offset || uprobe.offset >= offset + (end - start)) continue;
      int in_memory = memory_byte(pid, start + uprobe.offset - offset), in_file = file_byte(path, uprobe.offset);
      if (in_memory != in_file)
        differing += fmt::format("{:#x} holds {:#x}, the file {:#x}; ", start + uprobe.offset - offset, in_memory,
                                 in_file);
    }
  }
  return differing;
}

}  // namespace gotrace::testing
