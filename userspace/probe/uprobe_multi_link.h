// Multi-uprobe links (BPF_TRACE_UPROBE_MULTI, Linux 6.6 and later), made
// with the bpf() system call itself: libbpf 1.1, Debian 12's, predates them.
// One link puts one program on many offsets of one file, each with a cookie
// of its own, for one process alone, and is detached at once when its
// descriptor closes.
#pragma once

#include <cstdint>

namespace gotrace {

// The kernel's number for the attach type (enum bpf_attach_type), which the
// program must be loaded with.
inline constexpr int kUprobeMultiAttachType = 48;

// The link's descriptor, or -1 with errno set. `offsets` are file offsets
// in `path`; `cookies` one per offset; `pid` the process whose memory the
// breakpoints go into (the kernel also lets the program run for no other).
// Makes no allocation: the link attacher calls it in a forked process.
int create_uprobe_multi_link(int program_fd, const char* path, const uint64_t* offsets, const uint64_t* cookies,
                             uint32_t count, int pid);

}  // namespace gotrace
