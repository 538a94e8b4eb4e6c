#include "userspace/process/process_scope.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>


namespace gotrace {
namespace {

constexpr long kCgroup2Magic = 0x63677270;  // CGROUP2_SUPER_MAGIC

// A directory entry's name as a pid, when it is one.
std::optional<pid_t> pid_named(const char* name) {
  pid_t pid = 0;
  const char* end = name + std::strlen(name);
  auto [stop, ec] = std::from_chars(name, end, pid);
  if (ec != std::errc() || stop != end || pid <= 0) return std::nullopt;
  return pid;
}

// A mountinfo field with its octal escapes ("\040" for a space) undone.
std::string unescape_mount_field(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      int value = 0;
      auto [stop, ec] = std::from_chars(field.data() + i + 1, field.data() + i + 4, value, 8);
      if (ec == std::errc() && stop == field.data() + i + 4) {
        out += char(value);
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

// Where the unified hierarchy is mounted in gotrace's mount namespace.
Result<std::string> cgroup2_mount() {
  std::ifstream mountinfo("/proc/self/mountinfo");
  if (!mountinfo) return make_error("cannot read /proc/self/mountinfo: {}", std::strerror(errno));
  for (std::string line; std::getline(mountinfo, line);) {
    // ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
    size_t separator = line.find(" - ");
    if (separator == std::string::npos) continue;
    std::istringstream after(line.substr(separator + 3));
    std::string fstype;
    after >> fstype;
    if (fstype != "cgroup2") continue;
    std::istringstream before(line.substr(0, separator));
    std::string field, mount_point;
    for (int i = 0; i < 5 && before >> field; ++i) mount_point = field;
    if (!mount_point.empty()) return unescape_mount_field(mount_point);
  }
  return make_error("no cgroup v2 hierarchy is mounted");
}

// Adds the pids of one cgroup's cgroup.procs; false when it cannot be read.
bool add_cgroup_procs(const std::filesystem::path& directory, std::vector<pid_t>* pids) {
  std::ifstream procs(directory / "cgroup.procs");
  if (!procs) return false;
  for (std::string line; std::getline(procs, line);)
    if (auto pid = pid_named(line.c_str())) pids->push_back(*pid);
  return true;
}

}  // namespace

Result<std::vector<pid_t>> running_processes() {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return make_error("cannot list the processes: /proc: {}", std::strerror(errno));
  std::vector<pid_t> pids;
  while (dirent* entry = readdir(proc))
    if (auto pid = pid_named(entry->d_name)) pids.push_back(*pid);
  closedir(proc);
  std::sort(pids.begin(), pids.end());
  return pids;
}

Result<Cgroup> find_cgroup(const std::string& name) {
  if (name.empty()) return make_error("cgroup '': an empty path");
  auto mount = cgroup2_mount();
  if (!mount) return make_error("cgroup '{}': {}", name, mount.error().message);
  std::filesystem::path root = std::filesystem::path(*mount).lexically_normal();
  std::filesystem::path given = std::filesystem::path(name).lexically_normal();
  // The directory itself, or a path inside the hierarchy.
  std::filesystem::path inside = given.lexically_relative(root);
  if (given.is_relative() || inside.empty() || *inside.begin() == "..") inside = given.relative_path();
  if (inside == ".") inside.clear();
  for (const auto& part : inside)
    if (part == "..") return make_error("cgroup '{}': a path that leaves the cgroup hierarchy", name);
  Cgroup cgroup;
  cgroup.directory = (root / inside).lexically_normal().string();
  if (cgroup.directory.size() > 1 && cgroup.directory.back() == '/') cgroup.directory.pop_back();
  cgroup.path = "/" + inside.string();
  if (cgroup.path.size() > 1 && cgroup.path.back() == '/') cgroup.path.pop_back();
  for (const auto& part : inside)
    if (!part.empty()) ++cgroup.level;
  struct stat file;
  if (stat(cgroup.directory.c_str(), &file) != 0)
    return make_error("cgroup '{}': {}: {}", name, cgroup.directory, std::strerror(errno));
  struct statfs fs;
  if (!S_ISDIR(file.st_mode) || statfs(cgroup.directory.c_str(), &fs) != 0 || fs.f_type != kCgroup2Magic)
    return make_error("cgroup '{}': {} is not a cgroup of the v2 hierarchy (mounted at {})", name,
                      cgroup.directory, root.string());
  cgroup.id = file.st_ino;
  return cgroup;
}

Result<std::vector<pid_t>> processes_in(const Cgroup& cgroup) {
  std::vector<pid_t> pids;
  if (!add_cgroup_procs(cgroup.directory, &pids))
    return make_error("cgroup '{}': cannot read its processes: {}", cgroup.path, std::strerror(errno));
  // A cgroup below it may go while this reads: its processes went with it.
  std::error_code error;
  std::filesystem::recursive_directory_iterator below(
      cgroup.directory, std::filesystem::directory_options::skip_permission_denied, error);
  for (; !error && below != std::filesystem::recursive_directory_iterator(); below.increment(error))
    if (below->is_directory(error) && !below->is_symlink(error)) add_cgroup_procs(below->path(), &pids);
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  return pids;
}

std::string cgroup_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("0::")) return line.size() > 4 ? line.substr(3) : "";
  return "";
}

}  // namespace gotrace
