#include "userspace/probe/probe_counters.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "alloc_probe.skel.h"

namespace gotrace {
namespace {

TEST(ProbeCounters, EveryRowHasItsOwnNameAndIndex) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < std::size(kProbeCounters); ++i) {
    const ProbeCounter& counter = kProbeCounters[i];
    SCOPED_TRACE(counter.name);
    EXPECT_EQ(counter.index, i);
    EXPECT_TRUE(names.insert(counter.name).second);
    EXPECT_FALSE(counter.words.empty());
  }
  EXPECT_EQ(names.size(), size_t(GOTRACE_COUNTER_COUNT));
}

TEST(ProbeCounters, TheKernelsCountersAreTheFirstRows) {
  size_t kernel_rows = 0;
  for (const ProbeCounter& counter : kProbeCounters) {
    if (!counter.counted_by_kernel) continue;
    EXPECT_LT(counter.index, size_t(GOTRACE_KERNEL_COUNTER_COUNT)) << counter.name;
    ++kernel_rows;
  }
  EXPECT_EQ(kernel_rows, size_t(GOTRACE_KERNEL_COUNTER_COUNT));
  EXPECT_FALSE(kProbeCounters[GOTRACE_COUNTER_MALFORMED_RECORD].counted_by_kernel);
}

// The probe's map of counts no process can be charged with, as built into
// gotrace, has a slot for every kernel row and no more (a process's counts
// are an array of them: gotrace_abi.h). Opening the object needs no
// privileges.
TEST(ProbeCounters, TheProbesCounterMapHoldsEveryKernelRow) {
  alloc_probe* skeleton = alloc_probe__open();
  ASSERT_NE(skeleton, nullptr);
  EXPECT_EQ(bpf_map__max_entries(skeleton->maps.unattributed_counters), uint32_t(GOTRACE_KERNEL_COUNTER_COUNT));
  alloc_probe__destroy(skeleton);
}

// Every counter the BPF program counts is a kernel row, and every kernel
// row is counted somewhere in it.
TEST(ProbeCounters, TheProbeCountsEveryKernelRowAndNothingElse) {
  // The probe's source, with the headers of bpf/ it includes (the stack walk).
  std::string text;
  std::vector<std::string> files{GOTRACE_TEST_BPF_SOURCE};
  const std::string bpf_dir = files[0].substr(0, files[0].rfind('/') + 1);
  for (size_t i = 0; i < files.size(); ++i) {
    std::ifstream file(files[i]);
    ASSERT_TRUE(file) << files[i];
    std::stringstream source;
    source << file.rdbuf();
    const std::string include = "#include \"bpf/";
    std::string content = source.str();
    for (size_t at = content.find(include); at != std::string::npos; at = content.find(include, at + 1)) {
      size_t name = at + include.size(), end = content.find('"', name);
      std::string header = bpf_dir + content.substr(name, end - name);
      if (header.find("gotrace_abi.h") == std::string::npos) files.push_back(header);
    }
    text += content;
  }
  std::set<std::string> counted;
  // Every `count(hit, GOTRACE_COUNTER_NAME)` and
  // `count_unattributed(GOTRACE_COUNTER_NAME)` in the probe's source.
  const std::string use = "GOTRACE_COUNTER_";
  for (size_t at = text.find(use); at != std::string::npos; at = text.find(use, at + 1)) {
    size_t call = text.rfind("count", at);
    if (call == std::string::npos || text.find_first_of(";{}", call) < at) continue;
    size_t name = at + use.size(), end = text.find(')', name);
    if (end != std::string::npos) counted.insert(text.substr(name, end - name));
  }
  std::set<std::string> kernel_rows;
  for (const ProbeCounter& counter : kProbeCounters)
    if (counter.counted_by_kernel) kernel_rows.insert(std::string(counter.name));
  EXPECT_EQ(counted, kernel_rows);
}

TEST(ProbeCounters, TheTruncationNoticeNamesTheProbesLimits) {
  std::string_view words = kProbeCounters[GOTRACE_COUNTER_STACK_TRUNCATED].words;
  EXPECT_NE(words.find(fmt::format("{} frames", GOTRACE_MAX_STACK_DEPTH)), std::string_view::npos) << words;
  EXPECT_NE(words.find(fmt::format("{} KiB", GOTRACE_MAX_STACK_WINDOWS * GOTRACE_STACK_WINDOW_BYTES / 1024)),
            std::string_view::npos)
      << words;
}

TEST(ProbeCounters, SummaryTellsDropsAndNoticesApart) {
  ProbeCounts counts{};
  EXPECT_EQ(drops_summary(counts), "0 events lost");
  EXPECT_EQ(notices_summary(counts), "");
  EXPECT_EQ(total_dropped(counts), 0u);

  counts[GOTRACE_COUNTER_STACK_TRUNCATED] = 5;
  counts[GOTRACE_COUNTER_ZERO_SIZE] = 2;
  EXPECT_EQ(drops_summary(counts), "0 events lost");
  EXPECT_EQ(notices_summary(counts), "5 stacks cut at the root end (deeper than 127 frames or 64 KiB)");
  EXPECT_EQ(notices_summary(counts, /*tallies=*/true),
            "5 stacks cut at the root end (deeper than 127 frames or 64 KiB), 2 zero-size requests (nothing is "
            "allocated)");
  EXPECT_EQ(total_dropped(counts), 0u);

  counts[GOTRACE_COUNTER_RINGBUF_FULL] = 3;
  counts[GOTRACE_COUNTER_MALFORMED_RECORD] = 1;
  EXPECT_EQ(drops_summary(counts), "events lost: 3 dropped (ring buffer full), 1 dropped (malformed record)");
  EXPECT_EQ(total_dropped(counts), 4u);
  EXPECT_EQ(notices_summary(counts).find("dropped"), std::string::npos);
}

}  // namespace
}  // namespace gotrace
