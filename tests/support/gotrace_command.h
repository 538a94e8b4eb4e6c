// The gotrace executable under test, run as a user would run it.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "userspace/probe/alloc_probe.h"

// Tests of real tracing need root, or CAP_SYS_ADMIN (the kernel requires it for uprobes).
// CI runs as root; a developer run without them skips with the reason.
#define REQUIRE_BPF_PRIVILEGES()                                                  \
  do {                                                                            \
    if (auto missing = ::gotrace::missing_bpf_privileges()) GTEST_SKIP() << *missing; \
  } while (0)

namespace gotrace::testing {

// The gotrace executable under test ($GOTRACE_BINARY, or the one just built).
std::string gotrace_binary();

// Runs gotrace with `args` to completion.
CommandResult run_gotrace(std::vector<std::string> args);

// What every refusal looks like: the exit code, one line on stderr, and
// nothing on stdout.
void expect_one_line_error(const CommandResult& result, int exit_code, const std::string& message);

}  // namespace gotrace::testing
