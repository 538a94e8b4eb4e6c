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

TEST(TraceSummary, HeapModeSaysItsFiguresAreEstimatesAndWhatIsInUse) {
  TraceSummary summary = summary_of_pid_42();
  summary.heap = {true, 524288, 37, true, "", {1200, 4500000}, 9, 2, 5};
  EXPECT_EQ(format_trace_summary(summary),
            "gotrace: traced pid 42 for 2.50s: 1000 allocations, 62.5 KiB; 0 events lost\n"
            "gotrace: --heap: 37 samples of the runtime's own heap profiler (MemProfileRate 524288) stand for the "
            "allocations above: estimates, scaled as Go scales its heap profile\n"
            "gotrace: in use at the end: 1200 objects, 4.3 MiB, of what was allocated while tracing up to two "
            "collection cycles ago (5 cycles ended while tracing; 9 sampled objects alive, 2 of them newer and not "
            "counted yet), estimated from the runtime's samples (MemProfileRate 524288)\n");
}

TEST(TraceSummary, ThePeakEndsTheInUseLineWhereOneWasSeen) {
  TraceSummary summary = summary_of_pid_42();
  summary.heap = {false, 524288, 37, true, "", {1200, 4500000}, 9, 2, 5};
  summary.heap.peak_inuse = AllocationTotals{1234, 50331648};
  summary.heap.peak_at = std::chrono::milliseconds(3210);
  EXPECT_NE(format_trace_summary(summary).find("estimated from the runtime's samples (MemProfileRate 524288); in use "
                                               "at the peak (3.21s in): 48.0 MiB in 1234 objects\n"),
            std::string::npos)
      << format_trace_summary(summary);
  summary.heap.peak_inuse.reset();
  EXPECT_EQ(format_trace_summary(summary).find("peak"), std::string::npos);
}

TEST(TraceSummary, EachProcessOfManySaysItsOwnPeak) {
  TraceSummary compile = summary_of_pid_42(), link = summary_of_pid_42();
  link.pid = 43;
  for (TraceSummary* s : {&compile, &link}) {
    s->target_exited = true;
    s->heap = {true, 524288, 37, true, "", {1200, 4500000}, 9, 2, 5};
  }
  compile.heap.peak_inuse = AllocationTotals{1234, 50331648};
  compile.heap.peak_at = std::chrono::milliseconds(1500);
  std::string text = format_session_summary({compile, link}, {"compile", "link"}, ProbeCounts{},
                                            std::chrono::seconds(3));
  EXPECT_NE(text.find("gotrace:   pid 42 (compile): 2.50s (until it exited): 1000 allocations, 62.5 KiB; 0 events "
                      "lost; in use at the peak (1.50s in): 48.0 MiB in 1234 objects\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("gotrace:   pid 43 (link): 2.50s (until it exited): 1000 allocations, 62.5 KiB; 0 events "
                      "lost\n"),
            std::string::npos)
      << text;
  // Peaks of several processes are each at its own time: never summed.
  EXPECT_EQ(text.find("peak"), text.rfind("peak")) << text;
}

TEST(TraceSummary, WithoutTheHeapProfilerThereAreNoInUseFiguresAndItSaysWhy) {
  TraceSummary summary = summary_of_pid_42();
  summary.heap.no_inuse_reason = "pid 42: the program's heap profiling is off";
  EXPECT_NE(format_trace_summary(summary).find("gotrace: no in-use figures: pid 42: the program's heap profiling is "
                                               "off\n"),
            std::string::npos);
}

TEST(TraceSummary, TheGuardSaysWhatExactTracingCostAndWhenItFellBack) {
  TraceSummary summary = summary_of_pid_42();
  summary.guard = GuardOutcome{{0.012, 2100, 1710}, 0.03, std::nullopt, false};
  EXPECT_NE(format_trace_summary(summary).find("gotrace: exact tracing cost pid 42 about 1.2% of its CPU (2100 probe "
                                               "hits/s at 1.71 µs each), within --max-overhead 3%\n"),
            std::string::npos);
  summary.guard = GuardOutcome{{0.845, 111694, 3320}, 0.03, std::chrono::milliseconds(260), true};
  EXPECT_NE(format_trace_summary(summary).find("over --max-overhead 3%: from 0.26s on, the runtime's heap-profile "
                                               "samples stand for the allocations (estimates)"),
            std::string::npos);
  summary.guard->heap_took_over = false;
  EXPECT_NE(format_trace_summary(summary).find("tracing stopped at 0.26s with what it had, as the program's heap "
                                               "profiling is off"),
            std::string::npos);
}

}  // namespace
}  // namespace gotrace
