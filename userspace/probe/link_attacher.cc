#include "userspace/probe/link_attacher.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bpf/gotrace_abi.h"
#include "userspace/probe/uprobe_multi_link.h"

namespace gotrace {
namespace {

// A request, followed on the socket by the path's bytes, then `count`
// offsets and `count` cookies.
struct Request {
  int32_t program_fd;
  int32_t pid;
  uint32_t count;
  uint32_t path_length;
};
constexpr uint32_t kMaxOffsets = GOTRACE_MAX_ENTRY_POINTS;
constexpr uint32_t kMaxPath = 4096;

// Reads exactly `size` bytes; false at the end of the stream or on an error.
bool read_exactly(int fd, void* data, size_t size) {
  auto* bytes = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = read(fd, bytes, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes += n;
    size -= size_t(n);
  }
  return true;
}

// Sends the result: an errno value, and the link's descriptor with 0.
void reply(int socket, int error, int link) {
  int32_t value = error;
  iovec data{&value, sizeof(value)};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (link >= 0) {
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &link, sizeof(int));
  }
  (void)sendmsg(socket, &message, MSG_NOSIGNAL);
}

// The attacher's life, in the forked child: no allocation (gotrace may
// have had other threads at the fork), and no signal of gotrace's process
// group is for it. It ends when gotrace closes its end, or is gone.
[[noreturn]] void serve(int socket) {
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) ::signal(signal, SIG_IGN);
  static char path[kMaxPath + 1];
  static uint64_t offsets[kMaxOffsets], cookies[kMaxOffsets];
  for (Request request; read_exactly(socket, &request, sizeof(request));) {
    if (request.count == 0 || request.count > kMaxOffsets || request.path_length > kMaxPath ||
        !read_exactly(socket, path, request.path_length) ||
        !read_exactly(socket, offsets, request.count * sizeof(uint64_t)) ||
        !read_exactly(socket, cookies, request.count * sizeof(uint64_t)))
      break;
    path[request.path_length] = '\0';
    int link = create_uprobe_multi_link(request.program_fd, path, offsets, cookies, request.count, request.pid);
    reply(socket, link < 0 ? errno : 0, link);
    // gotrace holds it now, or, gone, never will: the link goes when the
    // last holder closes it.
    if (link >= 0) close(link);
  }
  _exit(0);
}

}  // namespace

Result<std::unique_ptr<LinkAttacher>> LinkAttacher::start() {
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0)
    return make_error("cannot start the probe's attacher: socketpair: {}", std::strerror(errno));
  Fd ours(ends[0]), theirs(ends[1]);
  pid_t pid = fork();
  if (pid < 0) return make_error("cannot start the probe's attacher: fork: {}", std::strerror(errno));
  if (pid == 0) {
    ours.reset();
    serve(theirs.get());
  }
  std::unique_ptr<LinkAttacher> attacher(new LinkAttacher());
  attacher->socket_ = std::move(ours);
  attacher->pid_ = pid;
  return attacher;
}

Result<Fd> LinkAttacher::attach(int program_fd, const std::string& path, const std::vector<uint64_t>& offsets,
                                const std::vector<uint64_t>& cookies, int pid) {
  if (offsets.empty() || offsets.size() > kMaxOffsets || offsets.size() != cookies.size() || path.size() > kMaxPath)
    return make_error("'{}': {} probe sites, 1 to {} supported", path, offsets.size(), kMaxOffsets);
  Request request{program_fd, pid, uint32_t(offsets.size()), uint32_t(path.size())};
  iovec parts[] = {{&request, sizeof(request)},
                   {const_cast<char*>(path.data()), path.size()},
                   {const_cast<uint64_t*>(offsets.data()), offsets.size() * sizeof(uint64_t)},
                   {const_cast<uint64_t*>(cookies.data()), cookies.size() * sizeof(uint64_t)}};
  msghdr message{};
  message.msg_iov = parts;
  message.msg_iovlen = 4;
  size_t total = 0;
  for (const iovec& part : parts) total += part.iov_len;
  if (sendmsg(socket_.get(), &message, MSG_NOSIGNAL) != ssize_t(total))
    return make_error("the probe's attacher is gone: {}", std::strerror(errno));

  int32_t error = 0;
  iovec data{&error, sizeof(error)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr answer{};
  answer.msg_iov = &data;
  answer.msg_iovlen = 1;
  answer.msg_control = control;
  answer.msg_controllen = sizeof(control);
  ssize_t n;
  do n = recvmsg(socket_.get(), &answer, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n != sizeof(error)) return make_error("the probe's attacher did not answer");
  if (error != 0) {
    errno = error;
    return Error{std::strerror(error)};
  }
  cmsghdr* header = CMSG_FIRSTHDR(&answer);
  if (header == nullptr || header->cmsg_type != SCM_RIGHTS) return make_error("the probe's attacher sent no link");
  int link;
  std::memcpy(&link, CMSG_DATA(header), sizeof(int));
  return Fd(link);
}

LinkAttacher::~LinkAttacher() {
  socket_.reset();
  if (pid_ > 0) waitpid(pid_, nullptr, 0);
}

}  // namespace gotrace
