#include "userspace/probe/trap_cost.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <time.h>
#include <vector>

#include <fmt/format.h>

#include "base/fd.h"

// Functions whose first instruction is what the probes sit on in Go code:
// `push %rbp` (Go 1.21 on) or `sub $N, %rsp` (earlier), each twice: one
// copy is probed, the other timed bare. Written in assembly so that the
// compiler cannot change their first instruction.
#define GOTRACE_TRAP_FUNCTION(name, body) \
  "  .globl " #name "\n  .type " #name ", @function\n" #name ":\n" body "  .size " #name ", .-" #name "\n"
#define GOTRACE_PUSH_BODY "  push %rbp\n  mov %rsp, %rbp\n  pop %rbp\n  ret\n"
#define GOTRACE_SUB_BODY "  sub $0x18, %rsp\n  add $0x18, %rsp\n  ret\n"
extern "C" void gotrace_trap_push(void);
extern "C" void gotrace_trap_push_bare(void);
extern "C" void gotrace_trap_sub(void);
extern "C" void gotrace_trap_sub_bare(void);
asm("  .text\n" GOTRACE_TRAP_FUNCTION(gotrace_trap_push, GOTRACE_PUSH_BODY)
        GOTRACE_TRAP_FUNCTION(gotrace_trap_push_bare, GOTRACE_PUSH_BODY)
            GOTRACE_TRAP_FUNCTION(gotrace_trap_sub, GOTRACE_SUB_BODY)
                GOTRACE_TRAP_FUNCTION(gotrace_trap_sub_bare, GOTRACE_SUB_BODY));

namespace gotrace {
namespace {

constexpr int kCalls = 4000;
constexpr int kRounds = 5;

// The offset in this process's executable of the code at `address`, from
// its mapping in /proc/self/maps.
Result<uint64_t> file_offset_of(const void* address) {
  std::ifstream maps("/proc/self/maps");
  if (!maps) return make_error("cannot read /proc/self/maps: {}", std::strerror(errno));
  auto target = reinterpret_cast<uint64_t>(address);
  for (std::string line; std::getline(maps, line);) {
    uint64_t start = 0, end = 0, offset = 0;
    char permissions[8] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %7s %lx", &start, &end, permissions, &offset) != 4) continue;
    if (target >= start && target < end && permissions[2] == 'x') return target - start + offset;
  }
  return make_error("gotrace's own code at {} is in no executable mapping", address);
}

// A BPF program that returns at once.
Result<Fd> load_empty_program() {
  std::array<bpf_insn, 2> code{};
  code[0].code = BPF_ALU64 | BPF_MOV | BPF_K;  // r0 = 0
  code[0].dst_reg = BPF_REG_0;
  code[1].code = BPF_JMP | BPF_EXIT;
  int fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "gotrace_trap", "GPL", code.data(), code.size(), nullptr);
  if (fd < 0) return make_error("cannot load an empty BPF program: {}", std::strerror(errno));
  return Fd(fd);
}

// A uprobe on this process's code at `offset` of its executable, running `program`.
Result<Fd> attach_uprobe(uint64_t offset, int program) {
  std::ifstream type_file("/sys/bus/event_source/devices/uprobe/type");
  int type = -1;
  if (!(type_file >> type)) return make_error("the kernel has no uprobe event source");
  perf_event_attr attr{};
  attr.size = sizeof(attr);
  attr.type = type;
  static const std::string self = fmt::format("/proc/{}/exe", getpid());
  attr.config1 = reinterpret_cast<uint64_t>(self.c_str());  // uprobe_path
  attr.config2 = offset;                                     // probe_offset
  int fd = int(syscall(SYS_perf_event_open, &attr, getpid(), -1, -1, PERF_FLAG_FD_CLOEXEC));
  if (fd < 0) return make_error("cannot create a uprobe on gotrace itself: {}", std::strerror(errno));
  Fd event(fd);
  if (ioctl(event.get(), PERF_EVENT_IOC_SET_BPF, program) != 0 || ioctl(event.get(), PERF_EVENT_IOC_ENABLE, 0) != 0)
    return make_error("cannot attach a BPF program to a uprobe on gotrace itself: {}", std::strerror(errno));
  return event;
}

// This thread's CPU time, user and system (where a trap is charged), in ns.
double thread_cpu_ns() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return double(now.tv_sec) * 1e9 + double(now.tv_nsec);
}

// Nanoseconds of CPU kCalls calls to `function` take. CPU time, not time
// on the clock: on a busy machine the thread may wait for a CPU meanwhile,
// which is no cost of the trap.
double time_calls(void (*function)()) {
  double start = thread_cpu_ns();
  for (int i = 0; i < kCalls; ++i) {
    function();
    asm volatile("" ::: "memory");  // every call happens
  }
  return thread_cpu_ns() - start;
}

}  // namespace

Result<double> measure_trap_cost(std::string_view probed_instruction) {
  bool push = probed_instruction.starts_with("push");
  void (*probed)() = push ? gotrace_trap_push : gotrace_trap_sub;
  void (*bare)() = push ? gotrace_trap_push_bare : gotrace_trap_sub_bare;
  auto offset = file_offset_of(reinterpret_cast<const void*>(probed));
  if (!offset) return offset.error();
  auto program = load_empty_program();
  if (!program) return program.error();
  auto probe = attach_uprobe(*offset, program->get());
  if (!probe) return probe.error();
  // Rounds alternate bare and probed calls, so that a busy moment of a
  // shared machine falls on both; each round gives one difference.
  std::vector<double> per_trap;
  for (int round = 0; round < kRounds; ++round) {
    double without = time_calls(bare);
    double with = time_calls(probed);
    per_trap.push_back(std::max(0.0, (with - without) / kCalls));
  }
  // The kernel takes a while to remove a uprobe: not on the caller's time.
  std::thread([done = std::move(*probe)]() mutable { done = Fd(); }).detach();
  std::nth_element(per_trap.begin(), per_trap.begin() + kRounds / 2, per_trap.end());
  return per_trap[kRounds / 2];
}

}  // namespace gotrace
