#include "userspace/trace/trace_summary.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>

#include "base/text_format.h"

namespace gotrace {
namespace {

// What the target exec'd, when, what that means for the results, and how to
// trace the new program.
std::string exec_line(int pid, const TargetExec& exec) {
  std::string program = exec.program ? "'" + *exec.program + "'"
                                     : fmt::format("another program ({})", exec.program.error().message);
  std::string line = fmt::format("gotrace: pid {} exec'd {} at {:.2f}s into the trace: tracing stopped there, and "
                                 "the results are of the program it ran before",
                                 pid, program, std::chrono::duration<double>(exec.at).count());
  if (!exec.exact)
    line += " (the exec's record found the ring buffer full: a few allocations of the new program, read before "
            "gotrace learnt of the exec, may be counted as the old one's)";
  if (exec.started_by_gotrace) line += "; gotrace waits for it to exit, and exits with its status";
  return line + fmt::format("; `gotrace attach {}` traces the new program\n", pid);
}

// What was in use at the peak, as a last clause of a line; "" when no peak was seen.
std::string peak_clause(const HeapFigures& heap) {
  if (!heap.peak_inuse) return "";
  return fmt::format("; in use at the peak ({:.2f}s in): {} in {} objects",
                     std::chrono::duration<double>(heap.peak_at).count(), format_bytes(heap.peak_inuse->bytes),
                     heap.peak_inuse->count);
}

// When the program turned its heap profiling off, as a clause of a line.
std::string turned_off_clause(const HeapFigures& heap) {
  if (!heap.turned_off_at) return "";
  return fmt::format("; heap profiling turned off by the program {:.2f}s in",
                     std::chrono::duration<double>(*heap.turned_off_at).count());
}

// What a program that turned its own heap profiling off while traced left
// the figures, and how to see more: `who` did, running the program `name`.
std::string turned_off_line(const std::string& who, const std::string& name, bool heap_mode) {
  std::string what = heap_mode ? "--heap saw its first moments only; --exact sees every allocation"
                               : "the in-use figures stop there";
  // The Go compiler is the program a build is traced for.
  std::string compiler = name == "compile" ? " (the Go compiler keeps it on when asked for a memory profile: go build "
                                             "-gcflags=all=-memprofile=/dev/null)"
                                           : "";
  return fmt::format("gotrace: {} turned its heap profiling off while traced (runtime.MemProfileRate = 0), and the "
                     "runtime sampled nothing after: {}{}\n",
                     who, what, compiler);
}

// How the runtime's heap profiler shaped the figures, and what is in use.
std::string heap_lines(int pid, const HeapFigures& heap) {
  std::string text;
  std::string rate = heap.rate ? fmt::format("MemProfileRate {}", *heap.rate) : std::string("its MemProfileRate");
  if (heap.heap_mode)
    text += fmt::format("gotrace: --heap: {} samples of the runtime's own heap profiler ({}) stand for the "
                        "allocations above: estimates, scaled as Go scales its heap profile\n",
                        heap.samples, rate);
  if (heap.heap_mode && heap.samples == 0 && !heap.rate)
    text += fmt::format("gotrace: no heap-profile sample came: pid {}'s heap profiling may be off "
                        "(runtime.MemProfileRate 0, as in a program that links neither runtime/pprof nor "
                        "net/http/pprof)\n", pid);
  if (heap.turned_off_at)
    text += turned_off_line(fmt::format("pid {} ({:.2f}s in)", pid, std::chrono::duration<double>(*heap.turned_off_at).count()),
                            "", heap.heap_mode);
  if (heap.records_inuse && heap.cycles < 2)
    text += fmt::format("gotrace: no in-use figures yet: {} collection cycle{} ended while tracing, and an object "
                        "counts as in use once two have, as in Go's own heap profile (by then the collector found it "
                        "alive, or it was freed)\n",
                        heap.cycles, heap.cycles == 1 ? "" : "s");
  else if (heap.records_inuse)
    text += fmt::format("gotrace: in use at the end: {} objects, {}, of what was allocated while tracing up to two "
                        "collection cycles ago ({} cycles ended while tracing; {} sampled objects alive, {} of them "
                        "newer and not counted yet), estimated from the runtime's samples ({}){}\n",
                        heap.inuse.count, format_bytes(heap.inuse.bytes), heap.cycles, heap.live_objects,
                        heap.pending_objects, rate, peak_clause(heap));
  else if (!heap.no_inuse_reason.empty())
    text += fmt::format("gotrace: no in-use figures: {}\n", heap.no_inuse_reason);
  return text;
}

// What exact tracing cost the target, and what the guard did about it.
std::string guard_line(int pid, const GuardOutcome& guard) {
  const OverheadReading& r = guard.reading;
  std::string cost = fmt::format("{:.1f}% of its CPU ({:.0f} probe hits/s at {:.2f} µs each)", r.overhead * 100,
                                 r.hits_per_second, r.cost_ns / 1000);
  if (!guard.switched_at)
    return fmt::format("gotrace: exact tracing cost pid {} about {}, within --max-overhead {:g}%\n", pid, cost,
                       guard.budget * 100);
  double at = std::chrono::duration<double>(*guard.switched_at).count();
  std::string then = guard.heap_took_over
                         ? fmt::format("from {:.2f}s on, the runtime's heap-profile samples stand for the "
                                       "allocations (estimates)", at)
                         : fmt::format("tracing stopped at {:.2f}s with what it had, as the program's heap "
                                       "profiling is off", at);
  return fmt::format("gotrace: exact tracing would cost pid {} {}, over --max-overhead {:g}%: {}; --exact records "
                     "every allocation whatever it costs\n",
                     pid, cost, guard.budget * 100, then);
}

}  // namespace

std::string format_trace_summary(const TraceSummary& s) {
  double seconds = std::chrono::duration<double>(s.duration).count();
  std::string lost = s.counts ? drops_summary(*s.counts) : "events lost unknown: " + s.counts.error().message;
  const char* until = s.exec ? " (until it exec'd)" : s.target_exited ? " (until it exited)" : "";
  std::string text = fmt::format("gotrace: traced pid {} for {:.2f}s{}: {} allocations, {}; {}\n", s.pid, seconds,
                                 until, s.totals.count, format_bytes(s.totals.bytes), lost);
  if (s.exec) text += exec_line(s.pid, *s.exec);
  if (s.guard) text += guard_line(s.pid, *s.guard);
  text += heap_lines(s.pid, s.heap);
  if (s.sample_rate != 0) {
    std::string recorded =
        s.kernel ? fmt::format("{} of {} allocations ({} requested, counted in the kernel)", s.events,
                               s.kernel->allocations, format_bytes(s.kernel->requested_bytes))
                 : fmt::format("{} allocations ({})", s.events, s.kernel.error().message);
    text += fmt::format("gotrace: sampled one allocation per {} on average: {} recorded; figures above are "
                        "estimates\n",
                        format_bytes(s.sample_rate), recorded);
  }
  if (s.merges.rounds != 0) {
    AllocationTotals merged = s.merges.merged.rounded();
    text += fmt::format("gotrace: --max-memory {} reached {} time{}: {} distinct stack{} ({} allocations, {}) merged "
                        "into their call sites, kept to their {} leaf-most frames under a {} root; totals are exact, "
                        "{} distinct stacks at the end\n",
                        format_bytes(s.max_memory), s.merges.rounds, s.merges.rounds == 1 ? "" : "s",
                        s.merges.stacks, s.merges.stacks == 1 ? "" : "s", merged.count, format_bytes(merged.bytes),
                        s.merges.kept_frames, kMergedFrame, s.distinct_stacks);
  }
  if (std::string notices = s.counts ? notices_summary(*s.counts, s.verbose) : ""; !notices.empty())
    text += fmt::format("gotrace: {}\n", notices);
  return text;
}

namespace {

void add_counts(Result<ProbeCounts>& into, const Result<ProbeCounts>& more) {
  if (!into || !more) {
    if (into && !more) into = more.error();
    return;
  }
  for (size_t i = 0; i < into->size(); ++i) (*into)[i] += (*more)[i];
}

// The figures of every process together.
// What the kernel counted for every process, or the first error reading it.
Result<KernelTotals> kernel_sum(const std::vector<TraceSummary>& each) {
  KernelTotals sum;
  for (const TraceSummary& s : each) {
    if (!s.kernel) return s.kernel.error();
    sum.allocations += s.kernel->allocations;
    sum.requested_bytes += s.kernel->requested_bytes;
  }
  return sum;
}

TraceSummary combined(const std::vector<TraceSummary>& each, std::chrono::nanoseconds duration) {
  // The settings every process shares, and sums of the rest.
  const TraceSummary& first = each.front();
  TraceSummary all{.pid = first.pid, .duration = duration, .counts = ProbeCounts{}, .kernel = kernel_sum(each)};
  all.sample_rate = first.sample_rate;
  all.verbose = first.verbose;
  all.max_memory = first.max_memory;
  all.guard = first.guard;
  all.heap.heap_mode = first.heap.heap_mode;
  all.heap.rate = first.heap.rate;
  all.heap.no_inuse_reason = first.heap.no_inuse_reason;
  for (const TraceSummary& s : each) {
    all.totals.count += s.totals.count;
    all.totals.bytes += s.totals.bytes;
    all.events += s.events;
    all.distinct_stacks += s.distinct_stacks;
    all.merges.rounds += s.merges.rounds;
    all.merges.stacks += s.merges.stacks;
    all.merges.merged.add(s.merges.merged);
    all.merges.kept_frames = std::max(all.merges.kept_frames, s.merges.kept_frames);
    add_counts(all.counts, s.counts);
    all.heap.samples += s.heap.samples;
    all.heap.inuse.count += s.heap.inuse.count;
    all.heap.inuse.bytes += s.heap.inuse.bytes;
    all.heap.live_objects += s.heap.live_objects;
    all.heap.pending_objects += s.heap.pending_objects;
    all.heap.cycles = std::max(all.heap.cycles, s.heap.cycles);
    all.heap.records_inuse |= s.heap.records_inuse;
  }
  return all;
}

// One process's line among many: how long it was traced and how its trace
// ended, what it allocated, what was lost, and what it had in use at its peak.
std::string process_line(const TraceSummary& s, const std::string& name) {
  double seconds = std::chrono::duration<double>(s.duration).count();
  std::string lost = s.counts ? drops_summary(*s.counts) : "events lost unknown: " + s.counts.error().message;
  const char* until = s.exec ? " (until it exec'd)" : s.target_exited ? " (until it exited)" : "";
  return fmt::format("gotrace:   pid {} ({}): {:.2f}s{}: {} allocations, {}; {}{}{}\n", s.pid, name, seconds, until,
                     s.totals.count, format_bytes(s.totals.bytes), lost, turned_off_clause(s.heap),
                     peak_clause(s.heap));
}

}  // namespace

std::string format_session_summary(std::vector<TraceSummary> each, const std::vector<std::string>& names,
                                   const Result<ProbeCounts>& unattributed, std::chrono::nanoseconds duration) {
  if (each.empty()) return "gotrace: no process was traced\n";
  if (each.size() == 1) {
    add_counts(each.front().counts, unattributed);
    return format_trace_summary(each.front());
  }
  TraceSummary all = combined(each, duration);
  add_counts(all.counts, unattributed);
  std::string lost = all.counts ? drops_summary(*all.counts) : "events lost unknown: " + all.counts.error().message;
  std::string text = fmt::format("gotrace: traced {} processes for {:.2f}s: {} allocations, {}; {}\n", each.size(),
                                 std::chrono::duration<double>(duration).count(), all.totals.count,
                                 format_bytes(all.totals.bytes), lost);
  std::map<std::string, size_t> turned_off;  // by program name, how many processes
  for (size_t i = 0; i < each.size(); ++i) {
    text += process_line(each[i], names[i]);
    if (each[i].heap.turned_off_at) ++turned_off[names[i]];
  }
  for (const auto& [name, processes] : turned_off)
    text += turned_off_line(processes == 1 ? name : fmt::format("{} ({} processes)", name, processes), name,
                            all.heap.heap_mode);
  // The rest of the summary, of all of them together.
  std::string rest = format_trace_summary(all);
  return text + rest.substr(rest.find('\n') + 1);
}

}  // namespace gotrace
