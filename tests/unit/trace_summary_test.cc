// The summary's words for how a trace ended: at the target's exit, or at its
// exec, with what it runs now and how to trace that.
#include "userspace/trace/trace_summary.h"

#include <gtest/gtest.h>

namespace gotrace {
namespace {

TraceSummary summary_of_pid_42() {
  TraceSummary summary;
  summary.pid = 42;
  summary.duration = std::chrono::milliseconds(2500);
  summary.totals.count = 1000;
  summary.totals.bytes = 64000;
  summary.counts = ProbeCounts{};
  return summary;
}

TEST(TraceSummary, AnExitIsSaidOnTheFirstLine) {
  TraceSummary summary = summary_of_pid_42();
  summary.target_exited = true;
  EXPECT_EQ(format_trace_summary(summary),
            "gotrace: traced pid 42 for 2.50s (until it exited): 1000 allocations, 62.5 KiB; 0 events lost\n");
}

TEST(TraceSummary, AnExecIsNamedWithWhatItRunsNowAndHowToTraceIt) {
  TraceSummary summary = summary_of_pid_42();
  summary.target_exited = true;  // it exec'd, then exited: the exec ended the trace
  summary.exec = TargetExec{std::chrono::milliseconds(2500), std::string("/usr/bin/server"), true, false};
  EXPECT_EQ(format_trace_summary(summary),
            "gotrace: traced pid 42 for 2.50s (until it exec'd): 1000 allocations, 62.5 KiB; 0 events lost\n"
            "gotrace: pid 42 exec'd '/usr/bin/server' at 2.50s into the trace: tracing stopped there, and the "
            "results are of the program it ran before; `gotrace attach 42` traces the new program\n");
}

TEST(TraceSummary, AnExecUnderRunSaysThatGotraceWaitsAndWhatWasNotRead) {
  TraceSummary summary = summary_of_pid_42();
  summary.exec = TargetExec{std::chrono::seconds(1), Error{"/proc/42/exe: No such file or directory"}, false, true};
  std::string text = format_trace_summary(summary);
  EXPECT_NE(text.find("gotrace: pid 42 exec'd another program (/proc/42/exe: No such file or directory) at 1.00s "
                      "into the trace"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("the exec's record found the ring buffer full"), std::string::npos) << text;
  EXPECT_NE(text.find("; gotrace waits for it to exit, and exits with its status; `gotrace attach 42` traces"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("exited"), std::string::npos) << text;
}

}  // namespace
}  // namespace gotrace
