#include "userspace/probe/uprobe_multi_link.h"

#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gotrace {
namespace {

// The link_create member of union bpf_attr for this attach type, as the
// kernel's uapi header of 6.6 on lays it out.
struct UprobeMultiAttr {
  uint32_t prog_fd;
  uint32_t target_fd;
  uint32_t attach_type;
  uint32_t flags;
  uint64_t path;
  uint64_t offsets;
  uint64_t ref_ctr_offsets;
  uint64_t cookies;
  uint32_t cnt;
  uint32_t uprobe_flags;
  uint32_t pid;
};

}  // namespace

int create_uprobe_multi_link(int program_fd, const char* path, const uint64_t* offsets, const uint64_t* cookies,
                             uint32_t count, int pid) {
  if (count == 0) {
    errno = EINVAL;
    return -1;
  }
  // The rest of the union stays zero, as the kernel requires.
  union {
    UprobeMultiAttr link;
    bpf_attr attr;
  } request;
  std::memset(&request, 0, sizeof(request));
  request.link.prog_fd = uint32_t(program_fd);
  request.link.attach_type = kUprobeMultiAttachType;
  request.link.path = reinterpret_cast<uint64_t>(path);
  request.link.offsets = reinterpret_cast<uint64_t>(offsets);
  request.link.cookies = reinterpret_cast<uint64_t>(cookies);
  request.link.cnt = count;
  request.link.pid = uint32_t(pid);
  int fd = int(syscall(SYS_bpf, BPF_LINK_CREATE, &request.attr, sizeof(request.attr)));
  if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

}  // namespace gotrace
