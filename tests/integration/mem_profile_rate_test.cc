// runtime.MemProfileRate read from a live Go process, where --heap reads it:
// the allocs fixture sets it to 1 at init (and reads its own heap profile,
// so the linker keeps profiling on), symtest never links the heap profiler,
// so the runtime turns it to 0 at start. Reading needs no BPF; the
// processes are the test's own children.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "symbolizer/go_binary.h"
#include "tests/support/child_process.h"
#include "tests/support/fixture_builds.h"
#include "tests/support/gotrace_command.h"
#include "userspace/probe/heap_profiler_hooks.h"
#include "userspace/process/target_process.h"

namespace gotrace {
namespace {

using testing::ChildProcess;
using testing::local_build;
using testing::run_gotrace;

uint64_t mem_profile_rate_address(const std::string& path) {
  auto binary = GoBinary::open(path);
  EXPECT_TRUE(binary) << binary.error().message;
  if (!binary) return 0;
  auto hooks = find_heap_profiler_hooks(**binary);
  EXPECT_TRUE(hooks) << hooks.error().message;
  return hooks ? hooks->mem_profile_rate : 0;
}

TEST(MemProfileRate, ReadFromALiveProcess) {
  std::string allocs = local_build("allocs", "plain"), symtest = local_build("symtest", "stripped");
  ChildProcess sampling({allocs, "steady"});
  sampling.read_until("steady");
  ChildProcess off({symtest});
  off.read_until("ready");

  auto one = read_target_word(sampling.pid(), mem_profile_rate_address(allocs));
  ASSERT_TRUE(one) << one.error().message;
  EXPECT_EQ(*one, 1u);
  auto zero = read_target_word(off.pid(), mem_profile_rate_address(symtest));
  ASSERT_TRUE(zero) << zero.error().message;
  EXPECT_EQ(*zero, 0u);

  auto unmapped = read_target_word(sampling.pid(), 8);
  ASSERT_FALSE(unmapped);
  EXPECT_EQ(unmapped.error().message,
            fmt::format("pid {}: cannot read 8 bytes at 0x8: Bad address", sampling.pid()));
  auto not_an_address = read_target_word(sampling.pid(), UINT64_MAX - 3);
  ASSERT_FALSE(not_an_address);
  EXPECT_NE(not_an_address.error().message.find("cannot read 8 bytes at 0xfffffffffffffffc"), std::string::npos);

  for (ChildProcess* child : {&sampling, &off}) {
    child->close_stdin();
    EXPECT_EQ(child->wait(), 0);
  }
  auto gone = read_target_word(sampling.pid(), mem_profile_rate_address(allocs));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().message, fmt::format("pid {}: no such process", sampling.pid()));
}

// gotrace info on a running PIE: the address moved by the load bias.
TEST(MemProfileRate, InfoShowsTheLiveValue) {
  ChildProcess sampling({local_build("allocs", "pie"), "steady"});
  sampling.read_until("steady");
  auto json = run_gotrace({"info", "--json", std::to_string(sampling.pid())});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto info = nlohmann::json::parse(json.out);
  const auto& heap = info["heap_profiler"];
  ASSERT_FALSE(heap.contains("error")) << heap.dump();
  EXPECT_EQ(heap["mem_profile_rate"], 1);
  EXPECT_EQ(heap["sample"]["function"], "runtime.profilealloc");
  EXPECT_EQ(heap["free"]["function"], "runtime.freeSpecial");

  ChildProcess off({local_build("symtest", "pie")});
  off.read_until("ready");
  auto text = run_gotrace({"info", std::to_string(off.pid())});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("MemProfileRate now: 0: the program's heap profiling is off"), std::string::npos)
      << text.out;
  for (ChildProcess* child : {&sampling, &off}) {
    child->close_stdin();
    EXPECT_EQ(child->wait(), 0);
  }
}

}  // namespace
}  // namespace gotrace
