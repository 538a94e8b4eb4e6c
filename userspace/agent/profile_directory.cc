#include "userspace/agent/profile_directory.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <regex>
#include <vector>

#include "base/fd.h"
#include "base/output_file.h"

namespace gotrace {
namespace {

// SERVICE.PID.TIME.pb.gz, as write() names files: the only names counted or removed.
const std::regex& profile_name() {
  static const std::regex name(R"(^[A-Za-z0-9_.-]+\.[0-9]+\.[0-9]{8}T[0-9]{6}Z\.pb\.gz$)");
  return name;
}

std::string utc_stamp(std::chrono::system_clock::time_point at) {
  time_t seconds = std::chrono::system_clock::to_time_t(at);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  strftime(text, sizeof(text), "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

Status make_directory(const std::string& path) {
  if (mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return make_error("'{}': {}", path, std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) return make_error("'{}': not a directory", path);
    return Ok{};
  }
  return make_error("'{}': cannot create it: {}", path, std::strerror(errno));
}

// A directory `name` in the directory `parent` (AT_FDCWD: a path), never
// reached through a link.
Fd open_directory_at(int parent, const char* name) {
  return Fd(openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// A service's directory in DIR, made if missing; never a link out of DIR.
Result<Fd> service_directory(const std::string& dir, const std::string& name) {
  std::string path = fmt::format("{}/{}", dir, name);
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
    return make_error("'{}': cannot create it: {}", path, std::strerror(errno));
  Fd fd = open_directory_at(AT_FDCWD, path.c_str());
  if (fd.get() < 0) return make_error("'{}': not a directory of the agent's: {}", path, std::strerror(errno));
  return fd;
}

struct ProfileFile {
  std::string stamp;    // sorts by time
  std::string service;  // its directory in DIR
  std::string name;
  uint64_t bytes;
};

// The same, to list it (closedir closes the descriptor).
DIR* list_directory_at(int parent, const char* name) {
  Fd fd = open_directory_at(parent, name);
  if (fd.get() < 0) return nullptr;
  DIR* opened = fdopendir(fd.get());
  if (opened != nullptr) fd.release();
  return opened;
}

// The agent's profiles in DIR's subdirectories: regular files named as it
// names them, none reached through a link.
std::vector<ProfileFile> profile_files(int dir) {
  std::vector<ProfileFile> files;
  DIR* top = list_directory_at(dir, ".");
  if (top == nullptr) return files;
  while (dirent* service = readdir(top)) {
    std::string name = service->d_name;
    if (name == "." || name == "..") continue;
    DIR* inner = list_directory_at(dirfd(top), name.c_str());
    if (inner == nullptr) continue;
    while (dirent* entry = readdir(inner)) {
      std::string file = entry->d_name;
      struct stat st {};
      if (!std::regex_match(file, profile_name()) ||
          fstatat(dirfd(inner), file.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
        continue;
      size_t stamp = file.rfind('.', file.size() - 7);
      files.push_back({file.substr(stamp + 1, 16), name, file, uint64_t(st.st_size)});
    }
    closedir(inner);
  }
  closedir(top);
  return files;
}

// Removes one of the agent's files, only if it still is one: a regular file
// in a real directory of DIR.
bool remove_profile(int dir, const ProfileFile& file) {
  Fd service = open_directory_at(dir, file.service.c_str());
  struct stat st {};
  if (service.get() < 0 || fstatat(service.get(), file.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISREG(st.st_mode))
    return false;
  return unlinkat(service.get(), file.name.c_str(), 0) == 0;
}

}  // namespace

std::string file_safe(std::string_view name) {
  std::string safe;
  for (char c : name) safe += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ? c : '_';
  // Of dots only (or nothing), it would name DIR itself or its parent.
  if (safe.find_first_not_of('.') == std::string::npos) return std::string(1, '_');
  return safe;
}

Result<ProfileDirectory> ProfileDirectory::open(const std::string& dir, uint64_t max_bytes) {
  if (dir.empty()) return make_error("--dir '': no directory named");
  // Its parents first, as `mkdir -p` makes them.
  for (size_t slash = dir.find('/', 1); slash != std::string::npos; slash = dir.find('/', slash + 1))
    if (Status s = make_directory(dir.substr(0, slash)); !s) return with_context(s.error(), "--dir");
  if (Status s = make_directory(dir); !s) return with_context(s.error(), "--dir");
  if (access(dir.c_str(), W_OK | X_OK) != 0) return make_error("--dir '{}': cannot write there: {}", dir, std::strerror(errno));
  ProfileDirectory directory(dir, max_bytes);
  directory.enforce_cap();
  return directory;
}

Result<std::string> ProfileDirectory::write(std::string_view service, int pid,
                                            std::chrono::system_clock::time_point start,
                                            std::string_view gzipped_pprof) {
  std::string name = file_safe(service);
  auto sub = service_directory(dir_, name);
  if (!sub) return with_context(sub.error(), "--dir");
  std::string file = fmt::format("{}.{}.{}.pb.gz", name, pid, utc_stamp(start));
  std::string path = fmt::format("{}/{}/{}", dir_, name, file);
  // Only a file of the agent's own is ever replaced: a link or anything
  // else that took the name stays, and the profile is not written.
  struct stat st {};
  if (fstatat(sub->get(), file.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode))
    return make_error("--dir: '{}': there already, and not a file of the agent's", path);
  if (Status s = write_output({"--dir", path}, gzipped_pprof); !s) return s.error();
  enforce_cap();
  return path;
}

void ProfileDirectory::enforce_cap() {
  Fd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) return;
  std::vector<ProfileFile> files = profile_files(dir.get());
  bytes_ = 0;
  for (const ProfileFile& file : files) bytes_ += file.bytes;
  if (max_bytes_ == 0 || bytes_ <= max_bytes_) return;
  std::sort(files.begin(), files.end(), [](const ProfileFile& a, const ProfileFile& b) { return a.stamp < b.stamp; });
  for (const ProfileFile& file : files) {
    if (bytes_ <= max_bytes_) break;
    if (!remove_profile(dir.get(), file)) continue;
    bytes_ -= file.bytes;
    ++removed_;
  }
}

}  // namespace gotrace
