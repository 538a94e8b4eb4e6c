#include "symbolizer/process_maps.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace gotrace {
namespace {

std::optional<uint64_t> parse_hex(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Splits off the next space-separated field of `line`.
std::string_view next_field(std::string_view* line) {
  size_t start = line->find_first_not_of(' ');
  if (start == std::string_view::npos) {
    *line = {};
    return {};
  }
  line->remove_prefix(start);
  size_t end = line->find(' ');
  std::string_view field = line->substr(0, end);
  line->remove_prefix(end == std::string_view::npos ? line->size() : end);
  return field;
}

std::string process_error(int pid, int error) {
  if (error == ENOENT || error == ESRCH) return fmt::format("pid {}: no such process", pid);
  if (error == EACCES || error == EPERM)
    return fmt::format("pid {}: permission denied (a process of another user needs root or CAP_SYS_PTRACE)", pid);
  return fmt::format("pid {}: {}", pid, std::strerror(error));
}

}  // namespace

std::vector<MemoryMapping> parse_proc_maps(std::string_view text) {
  std::vector<MemoryMapping> mappings;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    // address perms offset dev inode [path]
    std::string_view range = next_field(&line), perms = next_field(&line), offset = next_field(&line);
    std::string_view device = next_field(&line), inode = next_field(&line);
    size_t dash = range.find('-');
    if (dash == std::string_view::npos || perms.size() < 4 || device.empty()) continue;
    auto start = parse_hex(range.substr(0, dash)), end = parse_hex(range.substr(dash + 1));
    auto file_offset = parse_hex(offset);
    uint64_t inode_number = 0;
    std::from_chars(inode.data(), inode.data() + inode.size(), inode_number);
    if (!start || !end || !file_offset || *end <= *start) continue;
    size_t path_start = line.find_first_not_of(' ');
    std::string_view path = path_start == std::string_view::npos ? std::string_view() : line.substr(path_start);
    mappings.push_back({*start, *end, *file_offset, perms[2] == 'x', inode_number, std::string(path)});
  }
  return mappings;
}

Result<int> thread_group_of(int id) {
  if (id <= 0) return make_error("pid {}: not a valid process id", id);
  std::ifstream status(fmt::format("/proc/{}/status", id));
  if (!status) return Error{process_error(id, errno)};
  std::string line;
  while (std::getline(status, line)) {
    if (!line.starts_with("Tgid:")) continue;
    size_t start = line.find_first_not_of(" \t", 5);
    if (start == std::string::npos) break;
    std::string_view value = std::string_view(line).substr(start);
    int tgid = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), tgid);
    if (ec != std::errc() || tgid <= 0) break;
    return tgid;
  }
  return make_error("pid {}: no Tgid in /proc/{}/status", id, id);
}

Result<ProcessExecutable> inspect_process(int pid) {
  if (pid <= 0) return make_error("pid {}: not a valid process id", pid);
  std::string proc = fmt::format("/proc/{}", pid);
  struct stat st;
  if (stat(proc.c_str(), &st) != 0) return Error{process_error(pid, errno)};

  char link[4096];
  ssize_t n = readlink((proc + "/exe").c_str(), link, sizeof(link) - 1);
  if (n < 0) {
    int error = errno;
    if (error == ENOENT) return make_error("pid {}: has no executable (a kernel thread, or exiting)", pid);
    return Error{process_error(pid, error)};
  }
  ProcessExecutable process;
  process.pid = pid;
  process.path.assign(link, n);
  constexpr std::string_view kDeleted = " (deleted)";
  bool deleted = process.path.ends_with(kDeleted);
  if (deleted) process.path.resize(process.path.size() - kDeleted.size());

  std::ifstream maps_file(proc + "/maps");
  if (!maps_file) return Error{process_error(pid, errno)};
  std::stringstream maps_text;
  maps_text << maps_file.rdbuf();
  struct stat exe_stat;
  if (stat((proc + "/exe").c_str(), &exe_stat) != 0) return Error{process_error(pid, errno)};
  for (MemoryMapping& mapping : parse_proc_maps(maps_text.str())) {
    std::string_view path = mapping.path;
    if (path.ends_with(kDeleted)) path.remove_suffix(kDeleted.size());
    if (path == process.path && mapping.inode == exe_stat.st_ino) process.mappings.push_back(std::move(mapping));
  }
  if (process.mappings.empty()) return make_error("pid {}: executable '{}' is not mapped", pid, process.path);

  // The root link leads into the process's own mount namespace; a replaced
  // or deleted file is still reachable through the exe link.
  process.open_path = proc + "/root" + process.path;
  struct stat root_stat;
  if (deleted || stat(process.open_path.c_str(), &root_stat) != 0 || root_stat.st_ino != exe_stat.st_ino ||
      root_stat.st_dev != exe_stat.st_dev)
    process.open_path = proc + "/exe";
  return process;
}

Result<AddressTranslator> AddressTranslator::create(const ProcessExecutable& process, const ElfFile& elf) {
  // A mapping of file offset O at runtime address S, backed by a PT_LOAD
  // segment that maps O at link-time address V, gives bias S - V.
  for (const MemoryMapping& mapping : process.mappings)
    if (auto bias = load_bias_of(mapping, elf)) return AddressTranslator(*bias, process.mappings);
  return make_error("pid {}: mappings of '{}' do not match its program headers", process.pid, process.path);
}

std::optional<uint64_t> AddressTranslator::load_bias_of(const MemoryMapping& mapping, const ElfFile& elf) {
  for (const ElfSegment& segment : elf.load_segments()) {
    uint64_t page_offset = segment.offset & ~uint64_t(0xfff);
    if (mapping.offset < page_offset || mapping.offset >= segment.offset + std::max<uint64_t>(segment.filesz, 1))
      continue;
    uint64_t vaddr = segment.vaddr - (segment.offset - mapping.offset);
    return mapping.start - vaddr;
  }
  return std::nullopt;
}

std::optional<uint64_t> AddressTranslator::to_file_vaddr(uint64_t runtime_address) const {
  if (!mappings_.empty()) {
    bool inside = false;
    for (const MemoryMapping& m : mappings_) inside |= runtime_address >= m.start && runtime_address < m.end;
    if (!inside) return std::nullopt;
  }
  return runtime_address - load_bias_;
}

}  // namespace gotrace
