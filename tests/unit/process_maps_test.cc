#include "symbolizer/process_maps.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace gotrace {
namespace {

TEST(ProcMaps, ParsesLinesWithAndWithoutPaths) {
  auto mappings = parse_proc_maps(
      "55d0c0400000-55d0c049e000 r-xp 00000000 fe:01 1234                       /srv/api\n"
      "55d0c049f000-55d0c057a000 r--p 0009f000 fe:01 1234                       /srv/my app (deleted)\n"
      "c000000000-c000400000 rw-p 00000000 00:00 0 \n"
      "garbage line\n"
      "7ffd1000-7ffd2000 rw-p 00000000 00:00 0                          [stack]");
  ASSERT_EQ(mappings.size(), 4u);
  EXPECT_EQ(mappings[0].start, 0x55d0c0400000u);
  EXPECT_EQ(mappings[0].end, 0x55d0c049e000u);
  EXPECT_TRUE(mappings[0].executable);
  EXPECT_EQ(mappings[0].inode, 1234u);
  EXPECT_EQ(mappings[0].path, "/srv/api");
  EXPECT_EQ(mappings[1].offset, 0x9f000u);
  EXPECT_FALSE(mappings[1].executable);
  EXPECT_EQ(mappings[1].path, "/srv/my app (deleted)");
  EXPECT_EQ(mappings[2].path, "");
  EXPECT_EQ(mappings[3].path, "[stack]");
}

TEST(ProcMaps, MissingProcessIsAClearError) {
  auto process = inspect_process(999999999);
  ASSERT_FALSE(process);
  EXPECT_EQ(process.error().message, "pid 999999999: no such process");
}

TEST(ProcMaps, KernelThreadHasNoExecutable) {
  auto process = inspect_process(2);  // kthreadd
  ASSERT_FALSE(process);
  // Only root may look at where a process of another user runs from.
  if (geteuid() == 0) {
    EXPECT_EQ(process.error().message, "pid 2: has no executable (a kernel thread, or exiting)");
  } else {
    EXPECT_EQ(process.error().message,
              "pid 2: permission denied (a process of another user needs root or CAP_SYS_PTRACE)");
  }
}

TEST(AddressTranslator, OnlyTranslatesAddressesInsideTheExecutable) {
  AddressTranslator translator(0x1000, {{0x401000, 0x402000, 0, true, 1, "/x"}});
  EXPECT_EQ(translator.to_file_vaddr(0x401800), 0x400800u);
  EXPECT_FALSE(translator.to_file_vaddr(0x402000).has_value());
  EXPECT_EQ(translator.to_runtime(0x400800), 0x401800u);
}

}  // namespace
}  // namespace gotrace
