#include "base/output_file.h"

#include <fcntl.h>
#include <libgen.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace gotrace {
namespace {

constexpr size_t kBufferBytes = 1 << 16;
constexpr int kMaxSymlinks = 40;  // the kernel's own limit (ELOOP)

// What an output path comes to once its symlinks are followed.
struct Resolved {
  enum Kind {
    kStdout,   // "-"
    kThrough,  // a device, a pipe, or a descriptor named through /proc: opened and written through
    kFile,     // a regular file, or none yet: written beside it and renamed into place
  } kind;
  std::string path;       // kThrough: what to open; kFile: the file to put in place
  bool append = false;    // kThrough onto a regular file (/dev/stdout redirected to a file)
  std::optional<struct stat> existing;  // what the path names now, if anything
};

std::string directory_of(const std::string& path) {
  std::string copy = path;
  return dirname(copy.data());
}
std::string base_of(const std::string& path) {
  std::string copy = path;
  return basename(copy.data());
}

// /proc/<pid>/fd/N and the like are links to open files, not to paths: what
// they name is written through, as a shell's `> /dev/stdout` would be.
bool is_descriptor_link(const std::string& link) {
  char real[PATH_MAX];
  if (!realpath(directory_of(link).c_str(), real)) return false;
  std::string directory = real;
  return directory.starts_with("/proc/") && (directory.ends_with("/fd") || directory.ends_with("/fd/"));
}

Error output_error(const OutputPath& output, std::string_view cause) {
  return make_error("{} '{}': {}", output.flag, output.path, cause);
}
Error output_error(const OutputPath& output, int error) {
  return output_error(output, fmt::format("cannot write: {}", std::strerror(error)));
}

Result<Resolved> resolve(const OutputPath& output) {
  if (output.path == "-") return Resolved{Resolved::kStdout, "-", false, std::nullopt};
  std::string path = output.path;
  for (int hops = 0; hops <= kMaxSymlinks; ++hops) {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) {
      if (errno != ENOENT) return output_error(output, errno);
      char real[PATH_MAX];
      if (!realpath(directory_of(path).c_str(), real))
        return output_error(output, errno == ENOENT ? fmt::format("cannot write: no directory '{}'", directory_of(path))
                                                    : fmt::format("cannot write: {}", std::strerror(errno)));
      return Resolved{Resolved::kFile, std::string(real) + "/" + base_of(path), false, std::nullopt};
    }
    if (S_ISLNK(st.st_mode)) {
      if (is_descriptor_link(path)) {
        struct stat named;
        if (stat(path.c_str(), &named) != 0) return output_error(output, errno);
        return Resolved{Resolved::kThrough, path, S_ISREG(named.st_mode), named};
      }
      char target[PATH_MAX];
      ssize_t n = readlink(path.c_str(), target, sizeof(target) - 1);
      if (n < 0) return output_error(output, errno);
      std::string next(target, n);
      path = next.starts_with('/') ? next : directory_of(path) + "/" + next;
      continue;
    }
    if (S_ISDIR(st.st_mode)) return output_error(output, "is a directory");
    if (S_ISBLK(st.st_mode)) return output_error(output, "is a block device; gotrace does not write to disks directly");
    if (S_ISSOCK(st.st_mode)) return output_error(output, "is a socket");
    if (!S_ISREG(st.st_mode)) return Resolved{Resolved::kThrough, path, false, st};
    char real[PATH_MAX];
    if (!realpath(directory_of(path).c_str(), real)) return output_error(output, errno);
    return Resolved{Resolved::kFile, std::string(real) + "/" + base_of(path), false, st};
  }
  return output_error(output, std::strerror(ELOOP));
}

// An unnamed file in `directory`, gone when closed unless linked in. Fails
// with EOPNOTSUPP (or EISDIR on old kernels) where the file system has none.
// It is put in place through /proc/self/fd: without /proc (a chroot), a
// named file of ours is used instead.
Fd open_unnamed(const std::string& directory, mode_t mode) {
  if (access("/proc/self/fd", X_OK) != 0) {
    errno = EOPNOTSUPP;
    return Fd();
  }
  return Fd(open(directory.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, mode));
}

bool no_unnamed_files(int error) { return error == EOPNOTSUPP || error == EISDIR || error == EINVAL; }

// A name in `directory` that nothing has: ".<base>.gotrace-<random>".
Result<std::string> unique_name(const std::string& directory, const std::string& base) {
  uint64_t random = 0;
  if (getrandom(&random, sizeof(random), 0) != sizeof(random)) return make_error("getrandom: {}", std::strerror(errno));
  return fmt::format("{}/.{}.gotrace-{:016x}", directory, base, random);
}

// Opens a file of ours that nobody else has named, created exclusively.
Result<Fd> create_named(const std::string& directory, const std::string& base, mode_t mode, std::string* name) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto candidate = unique_name(directory, base);
    if (!candidate) return candidate.error();
    Fd fd(open(candidate->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (fd.get() >= 0) {
      *name = *candidate;
      return fd;
    }
    if (errno != EEXIST) return make_error("{}", std::strerror(errno));
  }
  return make_error("{}", std::strerror(EEXIST));
}

// Whether `output` can be written, proven by doing what the end will do,
// without leaving anything.
Status check_writable(const OutputPath& output, const Resolved& resolved) {
  if (resolved.kind == Resolved::kStdout) {
    if (fcntl(STDOUT_FILENO, F_GETFL) < 0) return output_error(output, "standard output is closed");
    return Ok{};
  }
  if (resolved.kind == Resolved::kThrough) {
    if (faccessat(AT_FDCWD, resolved.path.c_str(), W_OK, AT_EACCESS) != 0) return output_error(output, errno);
    return Ok{};
  }
  if (resolved.existing && faccessat(AT_FDCWD, resolved.path.c_str(), W_OK, AT_EACCESS) != 0)
    return output_error(output, errno);
  std::string directory = directory_of(resolved.path);
  Fd unnamed = open_unnamed(directory, 0600);
  if (unnamed.get() >= 0) return Ok{};
  if (!no_unnamed_files(errno)) return output_error(output, errno);
  if (faccessat(AT_FDCWD, directory.c_str(), W_OK | X_OK, AT_EACCESS) != 0) return output_error(output, errno);
  return Ok{};
}

// Two outputs are the same when they would write one file or one stream.
// Character devices are exempt: two outputs to /dev/null harm nothing.
bool same_output(const Resolved& a, const Resolved& b) {
  if (a.kind == Resolved::kStdout || b.kind == Resolved::kStdout) return a.kind == b.kind;
  if (a.existing && b.existing) {
    if (S_ISCHR(a.existing->st_mode)) return false;
    return a.existing->st_dev == b.existing->st_dev && a.existing->st_ino == b.existing->st_ino;
  }
  return a.kind == Resolved::kFile && b.kind == Resolved::kFile && a.path == b.path;
}

Status write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{std::strerror(errno)};
    if (n == 0) return Error{std::strerror(EIO)};
    bytes.remove_prefix(n);
  }
  return Ok{};
}

}  // namespace

Status check_outputs(const std::vector<OutputPath>& outputs) {
  std::string problems;
  auto add = [&](const Error& error) { problems += (problems.empty() ? "" : "\n") + error.message; };
  std::vector<std::pair<const OutputPath*, Resolved>> checked;
  for (const OutputPath& output : outputs) {
    if (output.path.empty()) continue;
    auto resolved = resolve(output);
    if (!resolved) {
      add(resolved.error());
      continue;
    }
    if (Status writable = check_writable(output, *resolved); !writable) add(writable.error());
    for (const auto& [other, other_resolved] : checked)
      if (same_output(*resolved, other_resolved))
        add(output_error(output, fmt::format("is the same file as {} '{}'", other->flag, other->path)));
    checked.emplace_back(&output, std::move(*resolved));
  }
  if (!problems.empty()) return Error{problems};
  return Ok{};
}

Result<OutputFile> OutputFile::create(const OutputPath& output) {
  auto resolved = resolve(output);
  if (!resolved) return resolved.error();
  OutputFile file;
  file.output_ = output;
  if (resolved->kind == Resolved::kStdout) {
    file.fd_ = Fd(fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0));
    if (file.fd_.get() < 0) return output_error(output, errno);
    return file;
  }
  if (resolved->kind == Resolved::kThrough) {
    // A pipe with no reader would block the open forever: it is an error now.
    int flags = O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (resolved->append ? O_APPEND : 0);
    file.fd_ = Fd(open(resolved->path.c_str(), flags));
    if (file.fd_.get() < 0 && errno == ENXIO) return output_error(output, "a pipe with no reader");
    if (file.fd_.get() < 0) return output_error(output, errno);
    fcntl(file.fd_.get(), F_SETFL, fcntl(file.fd_.get(), F_GETFL) & ~O_NONBLOCK);
    return file;
  }
  // A file that exists keeps its permissions; a new one gets 0644 less the umask.
  mode_t mode = resolved->existing ? (resolved->existing->st_mode & 07777) : 0644;
  std::string directory = directory_of(resolved->path);
  file.target_ = resolved->path;
  file.fd_ = open_unnamed(directory, mode);
  if (file.fd_.get() < 0 && !no_unnamed_files(errno)) return output_error(output, errno);
  if (file.fd_.get() < 0) {
    auto named = create_named(directory, base_of(resolved->path), mode, &file.temporary_);
    if (!named) return output_error(output, named.error().message);
    file.fd_ = std::move(*named);
  }
  if (resolved->existing) fchmod(file.fd_.get(), mode);  // the umask may have narrowed it
  return file;
}

OutputFile::OutputFile(OutputFile&& other) noexcept
    : output_(std::move(other.output_)),
      fd_(std::move(other.fd_)),
      target_(std::move(other.target_)),
      temporary_(std::move(other.temporary_)),
      buffer_(std::move(other.buffer_)),
      failed_(other.failed_) {
  other.temporary_.clear();
}

OutputFile::~OutputFile() {
  if (!temporary_.empty()) unlink(temporary_.c_str());  // ours, never put in place
}

Status OutputFile::fail(int error) {
  failed_ = true;
  return output_error(output_, fmt::format("cannot write: {}", std::strerror(error)));
}

Status OutputFile::flush() {
  if (buffer_.empty()) return Ok{};
  Status written = write_all(fd_.get(), buffer_);
  buffer_.clear();
  if (!written) {
    failed_ = true;
    return output_error(output_, fmt::format("cannot write: {}", written.error().message));
  }
  return Ok{};
}

Status OutputFile::write(std::string_view bytes) {
  if (failed_) return output_error(output_, "cannot write: an earlier write failed");
  buffer_.append(bytes);
  if (buffer_.size() >= kBufferBytes) return flush();
  return Ok{};
}

Status OutputFile::commit() {
  if (failed_) return output_error(output_, "cannot write: an earlier write failed");
  if (Status flushed = flush(); !flushed) return flushed;
  if (target_.empty()) return Ok{};  // written through
  if (fsync(fd_.get()) != 0) return fail(errno);
  std::string linked = temporary_;
  if (linked.empty()) {
    // Give the unnamed file a name of ours, then rename it over the target:
    // linkat cannot replace a file.
    std::string self = fmt::format("/proc/self/fd/{}", fd_.get());
    for (int attempt = 0; attempt < 16 && linked.empty(); ++attempt) {
      auto name = unique_name(directory_of(target_), base_of(target_));
      if (!name) return output_error(output_, name.error().message);
      if (linkat(AT_FDCWD, self.c_str(), AT_FDCWD, name->c_str(), AT_SYMLINK_FOLLOW) == 0) linked = *name;
      else if (errno != EEXIST) return fail(errno);
    }
    if (linked.empty()) return fail(EEXIST);
  }
  if (rename(linked.c_str(), target_.c_str()) != 0) {
    int error = errno;
    unlink(linked.c_str());
    temporary_.clear();
    return fail(error);
  }
  temporary_.clear();
  return Ok{};
}

Status write_output(const OutputPath& output, std::string_view bytes) {
  auto file = OutputFile::create(output);
  if (!file) return file.error();
  if (Status written = file->write(bytes); !written) return written;
  return file->commit();
}

}  // namespace gotrace
