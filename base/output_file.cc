#include "base/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace gotrace {

Status check_output_writable(const std::string& path) {
  if (path.empty()) return Ok{};
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return make_error("'{}': is a directory", path);
  // Prove now, before anything is attached, that the file can be written at the end.
  std::string probe = path + ".tmp";
  int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST) fd = open(probe.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return make_error("'{}': cannot write: {}", path, std::strerror(errno));
  close(fd);
  unlink(probe.c_str());
  return Ok{};
}

Status write_file_atomically(const std::string& path, const std::string& bytes) {
  std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) return make_error("'{}': cannot write: {}", path, std::strerror(errno));
    out.write(bytes.data(), bytes.size());
    out.close();
    if (!out) {
      std::remove(temporary.c_str());
      return make_error("'{}': cannot write: {}", path, std::strerror(errno));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    int error = errno;
    std::remove(temporary.c_str());
    return make_error("'{}': cannot write: {}", path, std::strerror(error));
  }
  return Ok{};
}

}  // namespace gotrace
