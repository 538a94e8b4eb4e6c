// What one uprobe trap costs on this machine, measured rather than assumed:
// the overhead guard multiplies it by the probe's hits.
//
// A hit costs the target the trap into the kernel and back, plus the BPF
// program it runs (which the kernel's statistics time: see
// userspace/trace/overhead_guard.h). The trap depends on the CPU, the
// kernel, its mitigations, and the probed instruction: the kernel emulates
// a `push %rbp` in place, and steps out of line over other instructions
// such as `sub $N, %rsp` (Go before 1.21), which costs more. So gotrace
// probes a function of its own whose first instruction is of the same kind,
// with a program that does nothing, and times calls to it with and without
// the probe.
#pragma once

#include <string_view>

#include "base/result.h"

namespace gotrace {

// Nanoseconds a trap costs on an instruction like `probed_instruction` (as
// ProbeSite::instruction gives it, AT&T syntax): the median of a few rounds
// of a few thousand calls, in CPU time. Takes about 30 ms. Needs CAP_SYS_ADMIN.
Result<double> measure_trap_cost(std::string_view probed_instruction);

}  // namespace gotrace
