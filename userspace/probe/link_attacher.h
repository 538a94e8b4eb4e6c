// The process that attaches the probe's multi-uprobe links for gotrace.
//
// While the kernel registers a link's uprobes it writes a breakpoint into
// the target for each; when a registration fails it removes those it wrote,
// with the same page access, which a fatal signal pending for the caller
// makes fail. A SIGKILL that reaches gotrace in the middle of attaching
// would so leave breakpoints in the target with no uprobe behind them, and
// the target would die of SIGTRAP at the first. The attacher, a process
// forked from gotrace after the programs are loaded (it inherits their
// descriptors), makes the links instead and hands each back to gotrace over
// a socket: a signal aimed at gotrace never interrupts it, and when gotrace
// is gone it finishes what it was doing, closes what it made and exits.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/fd.h"
#include "base/result.h"

namespace gotrace {

class LinkAttacher {
 public:
  static Result<std::unique_ptr<LinkAttacher>> start();
  ~LinkAttacher();
  LinkAttacher(const LinkAttacher&) = delete;
  LinkAttacher& operator=(const LinkAttacher&) = delete;

  // A multi-uprobe link of `program_fd` (a descriptor the attacher
  // inherited) on `offsets` of `path`, for process `pid`, with a cookie per
  // offset (uprobe_multi_link.h); its descriptor, now gotrace's.
  Result<Fd> attach(int program_fd, const std::string& path, const std::vector<uint64_t>& offsets,
                    const std::vector<uint64_t>& cookies, int pid);

 private:
  LinkAttacher() = default;
  Fd socket_;
  pid_t pid_ = -1;
};

}  // namespace gotrace
