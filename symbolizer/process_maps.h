// The executable of a live process, and the translation of its runtime
// addresses to the link-time addresses the symbolizer works with.
//
// The binary is opened through /proc/<pid>/root, so that a process in a
// container (another mount namespace) is read from its own file system; the
// load bias (non-zero for PIE) comes from /proc/<pid>/maps and the ELF
// program headers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "symbolizer/elf_file.h"
#include "base/result.h"

namespace gotrace {

struct MemoryMapping {  // one line of /proc/<pid>/maps
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t offset = 0;  // file offset of `start`
  bool executable = false;
  uint64_t inode = 0;
  std::string path;     // as the process sees it; empty for anonymous memory
};

// Parses the text of a /proc/<pid>/maps file; malformed lines are skipped.
std::vector<MemoryMapping> parse_proc_maps(std::string_view text);

struct ProcessExecutable {
  int pid = 0;
  std::string path;       // the executable's path inside the process's mount namespace
  std::string open_path;  // where this process can open it: /proc/<pid>/root/<path> or /proc/<pid>/exe
  std::vector<MemoryMapping> mappings;  // the mappings of the executable, in address order
};

// The process that thread `id` belongs to (its thread group, from the Tgid
// line of /proc/<id>/status): `id` itself when it is a process. A thread
// that is not its group's leader has a /proc/<id> of its own, hidden from
// listings, and its process's executable and mappings; but the kernel
// watches its exit and filters probes by thread, not by process. Errors as
// for inspect_process.
Result<int> thread_group_of(int id);

// Finds the executable of `pid`. Errors name the pid and the cause (no such
// process, permission denied, a kernel thread with no executable).
Result<ProcessExecutable> inspect_process(int pid);

// Runtime address ↔ link-time address for one mapped executable.
class AddressTranslator {
 public:
  static Result<AddressTranslator> create(const ProcessExecutable& process, const ElfFile& elf);
  // The load bias of `elf` mapped as `mapping` says (its file offset at its
  // start), when a PT_LOAD segment maps that offset: for one mapping known
  // otherwise than from /proc, as a profile's.
  static std::optional<uint64_t> load_bias_of(const MemoryMapping& mapping, const ElfFile& elf);
  // For a file that is mapped at its link-time addresses (bias 0) or known bias.
  explicit AddressTranslator(uint64_t load_bias, std::vector<MemoryMapping> mappings = {})
      : load_bias_(load_bias), mappings_(std::move(mappings)) {}

  uint64_t load_bias() const { return load_bias_; }
  // The link-time address of `runtime_address`, or nullopt when it is not
  // inside a mapping of the executable.
  std::optional<uint64_t> to_file_vaddr(uint64_t runtime_address) const;
  uint64_t to_runtime(uint64_t file_vaddr) const { return file_vaddr + load_bias_; }

 private:
  uint64_t load_bias_ = 0;
  std::vector<MemoryMapping> mappings_;
};

}  // namespace gotrace
