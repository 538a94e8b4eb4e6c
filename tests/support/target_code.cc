#include "tests/support/target_code.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/fd.h"
#include "tests/support/gotrace_command.h"

namespace gotrace::testing {
namespace {

// Reads exactly `length` bytes at `offset`, or fewer at the end of a file.
std::string read_at(int fd, uint64_t offset, uint64_t length) {
  std::string bytes(length, '\0');
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = pread(fd, bytes.data() + done, length - done, off_t(offset + done));
    if (n <= 0) break;
    done += uint64_t(n);
  }
  bytes.resize(done);
  return bytes;
}

// An executable mapping of a process's binary.
struct CodeMapping {
  uint64_t start = 0, end = 0, offset = 0;
};

// The executable mappings of the file with inode `inode`, read from the
// process's maps here rather than with gotrace's own parser, which is under test.
std::vector<CodeMapping> code_mappings(const std::string& maps_path, uint64_t inode) {
  std::ifstream maps(maps_path);
  std::vector<CodeMapping> out;
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::string range, perms, device;
    CodeMapping mapping;
    uint64_t mapped_inode = 0;
    fields >> range >> perms >> std::hex >> mapping.offset >> device >> std::dec >> mapped_inode;
    if (!fields || perms.find('x') == std::string::npos || mapped_inode != inode) continue;
    size_t dash = range.find('-');
    mapping.start = std::stoull(range.substr(0, dash), nullptr, 16);
    mapping.end = std::stoull(range.substr(dash + 1), nullptr, 16);
    out.push_back(mapping);
  }
  return out;
}

// Compares one mapping of the binary; false with `out.error` set when its
// memory cannot be read.
bool compare_mapping(const CodeMapping& mapping, int memory, int file, CodeComparison& out) {
  uint64_t length = mapping.end - mapping.start;
  std::string in_memory = read_at(memory, mapping.start, length);
  if (in_memory.size() != length) {
    out.error = fmt::format("cannot read the code at {:#x} through /proc/<pid>/mem", mapping.start);
    return false;
  }
  // Past the end of the file the mapping reads as zeros, in memory and here.
  std::string in_file = read_at(file, mapping.offset, length);
  in_file.resize(length, '\0');
  out.file_ranges.emplace_back(mapping.offset, mapping.offset + length);
  out.bytes_compared += length;
  for (uint64_t i = 0; i < length; ++i) {
    if (in_memory[i] == in_file[i]) continue;
    if (out.differences.size() == CodeComparison::kMaxDifferences) break;
    out.differences.push_back({mapping.start + i, mapping.offset + i, uint8_t(in_memory[i]), uint8_t(in_file[i])});
  }
  return true;
}

}  // namespace

bool CodeComparison::covers(uint64_t file_offset) const {
  for (auto [begin, end] : file_ranges)
    if (file_offset >= begin && file_offset < end) return true;
  return false;
}

bool CodeComparison::breakpoint_at(uint64_t file_offset) const {
  for (const CodeDifference& d : differences)
    if (d.file_offset == file_offset) return d.in_memory == 0xcc;
  return false;
}

std::string CodeComparison::describe() const {
  if (!error.empty()) return error;
  std::string text;
  for (const CodeDifference& d : differences)
    text += fmt::format("{}{:#x} (file {:#x}): {:02x} in memory, {:02x} in the file", text.empty() ? "" : "; ",
                        d.address, d.file_offset, d.in_memory, d.in_file);
  return text.empty() ? fmt::format("{} bytes of code, equal to the file", bytes_compared) : text;
}

CodeComparison compare_code_with_file(pid_t pid) {
  CodeComparison out;
  std::string proc = fmt::format("/proc/{}", pid);
  Fd memory(open((proc + "/mem").c_str(), O_RDONLY | O_CLOEXEC));
  Fd file(open((proc + "/exe").c_str(), O_RDONLY | O_CLOEXEC));
  struct stat binary;
  if (memory.get() < 0 || file.get() < 0 || fstat(file.get(), &binary) != 0) {
    out.error = fmt::format("pid {}: cannot open its memory or its binary: {}", pid, std::strerror(errno));
    return out;
  }
  for (const CodeMapping& mapping : code_mappings(proc + "/maps", binary.st_ino))
    if (!compare_mapping(mapping, memory.get(), file.get(), out)) return out;
  if (out.bytes_compared == 0) out.error = fmt::format("pid {}: its binary has no executable mapping", pid);
  return out;
}

void expect_breakpoints_at(pid_t pid, const std::vector<uint64_t>& sites) {
  EXPECT_FALSE(sites.empty()) << "no probe site to look at";
  CodeComparison code = compare_code_with_file(pid);
  ASSERT_EQ(code.error, "");
  for (uint64_t site : sites) {
    ASSERT_TRUE(code.covers(site)) << fmt::format("{:#x} is not in the code compared", site);
    EXPECT_TRUE(code.breakpoint_at(site)) << fmt::format("no breakpoint at {:#x} while attached: ", site)
                                          << code.describe();
  }
}

std::vector<uint64_t> probe_file_offsets(pid_t pid) {
  CommandResult info = run_gotrace({"info", "--json", std::to_string(pid)});
  std::vector<uint64_t> offsets;
  auto json = nlohmann::json::parse(info.out, nullptr, /*allow_exceptions=*/false);
  if (info.exit_code != 0 || !json.is_object() || !json.contains("allocation_entry_points")) {
    ADD_FAILURE() << "gotrace info --json " << pid << " said: " << info.err << info.out.substr(0, 500);
    return offsets;
  }
  for (const auto& entry : json["allocation_entry_points"])
    offsets.push_back(std::stoull(entry.value("probe_offset", "0"), nullptr, 16));
  if (offsets.empty()) ADD_FAILURE() << "gotrace info --json " << pid << " lists no probe site";
  return offsets;
}

}  // namespace gotrace::testing
