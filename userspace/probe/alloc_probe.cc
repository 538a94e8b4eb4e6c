#include "userspace/probe/alloc_probe.h"

#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <tuple>

#include "alloc_probe.skel.h"
#include "userspace/probe/libbpf_error.h"

namespace gotrace {
namespace {

// Without -v libbpf's own messages go nowhere: errors are reported through
// the return values, as one line that names the cause.
int quiet_libbpf(enum libbpf_print_level, const char*, va_list) { return 0; }
// With -v everything libbpf says goes to stderr, the verifier's log among it
// (libbpf prints it when a program fails to load).
int libbpf_to_stderr(enum libbpf_print_level, const char* format, va_list args) {
  return std::vfprintf(stderr, format, args);
}

// How many values a per-CPU map holds for each key.
Result<size_t> possible_cpus() {
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return make_error("cannot count the possible CPUs: {}", errno_text(cpus));
  return size_t(cpus);
}

// Whether `capability` is in this process's effective set.
Result<bool> has_effective_capability(int capability) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0)
    return make_error("cannot read this process's capabilities: {}", std::strerror(errno));
  return ((data[capability / 32].effective >> (capability % 32)) & 1) != 0;
}

}  // namespace

std::optional<std::string> missing_bpf_privileges() {
  auto has = has_effective_capability(CAP_SYS_ADMIN);
  if (!has) return has.error().message;
  if (*has) return std::nullopt;
  return std::string("loading the BPF probe needs root or CAP_SYS_ADMIN, which the kernel requires for uprobes "
                     "(CAP_BPF and CAP_PERFMON are not enough; missing: CAP_SYS_ADMIN)");
}

std::optional<std::string> missing_ptrace_privilege(int pid) {
  struct stat process;
  if (stat(fmt::format("/proc/{}", pid).c_str(), &process) != 0 || process.st_uid == geteuid()) return std::nullopt;
  auto has = has_effective_capability(CAP_SYS_PTRACE);
  if (!has) return has.error().message;
  if (*has) return std::nullopt;
  return fmt::format("pid {}: a process of another user (uid {}): tracing it needs root, or CAP_SYS_PTRACE besides "
                     "CAP_SYS_ADMIN (missing: CAP_SYS_PTRACE)",
                     pid, process.st_uid);
}

Result<std::unique_ptr<AllocProbe>> AllocProbe::attach(const ProbeTarget& target, AllocationHandler handler) {
  if (!target.record_entry_points && !target.heap)
    return make_error("pid {}: nothing to probe: neither the allocator nor its heap profiler", target.pid);
  if (target.sites.empty() || target.sites.size() > GOTRACE_MAX_ENTRY_POINTS)
    return make_error("pid {}: {} allocation entry points to probe (1 to {} supported)", target.pid,
                      target.sites.size(), GOTRACE_MAX_ENTRY_POINTS);
  libbpf_set_print(target.verbose ? libbpf_to_stderr : quiet_libbpf);
  std::unique_ptr<AllocProbe> probe(new AllocProbe());
  probe->handler_ = std::move(handler);

  probe->skeleton_ = alloc_probe__open();
  if (probe->skeleton_ == nullptr) return make_error("cannot open the BPF probe: {}", errno_text(errno));
  auto* rodata = probe->skeleton_->rodata;
  rodata->target_tgid = target.pid;
  rodata->mallocgc_start = target.mallocgc_start;
  rodata->mallocgc_end = target.mallocgc_end;
  rodata->goexit_start = target.goexit_start;
  rodata->goexit_end = target.goexit_end;
  rodata->sample_rate = target.sample_rate;
  rodata->wakeup_bytes = target.ring_buffer_bytes / 4;
  for (size_t i = 0; i < target.sites.size(); ++i) rodata->probe_vaddrs[i] = target.sites[i].vaddr;
  if (target.heap) {
    rodata->probe_vaddrs[GOTRACE_SITE_HEAP_SAMPLE] = target.heap->sample.vaddr;
    rodata->probe_vaddrs[GOTRACE_SITE_HEAP_FREE] = target.heap->free.vaddr;
    rodata->probe_vaddrs[GOTRACE_SITE_HEAP_CYCLE] = target.heap->cycle.vaddr;
    rodata->mem_profile_rate_vaddr = target.heap->mem_profile_rate;
    rodata->special_kind_offset = target.heap->special_kind_offset;
    rodata->special_profile_kind = target.heap->special_profile_kind;
  }
  if (int err = bpf_map__set_max_entries(probe->skeleton_->maps.alloc_events, target.ring_buffer_bytes); err != 0)
    return make_error("cannot size the BPF ring buffer: {}", errno_text(err));
  if (int err = alloc_probe__load(probe->skeleton_); err != 0)
    return make_error("cannot load the BPF probe: {}{}", errno_text(err),
                      target.verbose ? "" : " (-v shows the verifier's log)");

  if (target.sample_rate != 0) {
    if (Status s = probe->start_sampling(target.sample_rate); !s) return s.error();
  }
  int events_fd = bpf_map__fd(probe->skeleton_->maps.alloc_events);
  if (events_fd < 0) return make_error("cannot find the BPF ring buffer: {}", errno_text(events_fd));
  // The watcher goes first: an exec while the uprobes are being attached is
  // then in the stream too.
  auto watch = ExecWatch::attach(target.pid, target.execs_before_tracing, events_fd);
  if (!watch) return watch.error();
  probe->exec_watch_ = std::move(*watch);
  probe->skeleton_->bss->exact_recording = target.record_entry_points ? 1 : 0;
  // The heap profiler's probes first: an exact trace's in-use figures then
  // hold every object sampled while it recorded.
  if (Status s = probe->attach_heap_links(target); !s) return s.error();
  if (target.record_entry_points) {
    if (Status s = probe->attach_links(target); !s) return s.error();
  }
  probe->ring_ = ring_buffer__new(events_fd, &AllocProbe::on_event, probe.get(), nullptr);
  if (probe->ring_ == nullptr) return make_error("cannot read the BPF ring buffer: {}", errno_text(errno));
  return probe;
}

// One uprobe per site, its index as the attach cookie.
Status AllocProbe::attach_links(const ProbeTarget& target) {
  bpf_program* program = target.program == ProbeProgram::kEmpty ? skeleton_->progs.uprobe__empty
                                                                 : skeleton_->progs.uprobe__go_allocator;
  for (size_t i = 0; i < target.sites.size(); ++i) {
    LIBBPF_OPTS(bpf_uprobe_opts, options, .bpf_cookie = i);
    bpf_link* link = bpf_program__attach_uprobe_opts(program, target.pid, target.binary_path.c_str(),
                                                     target.sites[i].file_offset, &options);
    if (link == nullptr)
      return make_error("pid {}: cannot attach a uprobe to {} in '{}': {}", target.pid, target.sites[i].function,
                        target.binary_path, errno_text(errno));
    links_.push_back(link);
  }
  return Ok{};
}

Status AllocProbe::attach_heap_links(const ProbeTarget& target) {
  if (!target.heap || target.program == ProbeProgram::kEmpty) return Ok{};
  for (auto [program, site, cookie] :
       {std::tuple{skeleton_->progs.uprobe__heap_sample, &target.heap->sample, GOTRACE_SITE_HEAP_SAMPLE},
        std::tuple{skeleton_->progs.uprobe__heap_free, &target.heap->free, GOTRACE_SITE_HEAP_FREE},
        std::tuple{skeleton_->progs.uprobe__heap_cycle, &target.heap->cycle, GOTRACE_SITE_HEAP_CYCLE}}) {
    LIBBPF_OPTS(bpf_uprobe_opts, options, .bpf_cookie = uint64_t(cookie));
    bpf_link* link = bpf_program__attach_uprobe_opts(program, target.pid, target.binary_path.c_str(),
                                                     site->file_offset, &options);
    if (link == nullptr)
      return make_error("pid {}: cannot attach a uprobe to {} in '{}': {}", target.pid, site->function,
                        target.binary_path, errno_text(errno));
    heap_links_.push_back(link);
  }
  return Ok{};
}

int AllocProbe::record_program_fd() const { return bpf_program__fd(skeleton_->progs.uprobe__go_allocator); }

void AllocProbe::stop_recording_entry_points() {
  // The program reads the flag on every hit, through the same mapping.
  *reinterpret_cast<volatile __u32*>(&skeleton_->bss->exact_recording) = 0;
}

void AllocProbe::detach_entry_points() {
  // Destroying a link closes its descriptor, which detaches the uprobe
  // whatever the call returns: a failure leaves nothing to undo.
  for (bpf_link* link : links_) (void)bpf_link__destroy(link);
  links_.clear();
}

AllocProbe::~AllocProbe() {
  if (ring_ != nullptr) ring_buffer__free(ring_);
  detach_entry_points();
  for (bpf_link* link : heap_links_) (void)bpf_link__destroy(link);
  exec_watch_.reset();
  if (skeleton_ != nullptr) alloc_probe__destroy(skeleton_);
}

bool AllocProbe::take_exec_record(const void* data, size_t size) {
  if (size != sizeof(gotrace_exec_event)) return false;
  const auto* exec = static_cast<const gotrace_exec_event*>(data);
  if (exec->magic != GOTRACE_EXEC_EVENT_MAGIC) return false;
  // bpf_ktime_get_ns() is CLOCK_MONOTONIC, as steady_clock is.
  if (!exec_seen_) exec_seen_ = ExecSeen{std::chrono::steady_clock::time_point(std::chrono::nanoseconds(exec->time_ns))};
  return true;
}

int AllocProbe::on_event(void* context, void* data, size_t size) {
  auto* probe = static_cast<AllocProbe*>(context);
  if (probe->take_exec_record(data, size)) return 0;
  // Past the exec the records are another image's (the same binary, re-exec'd,
  // keeps its uprobes), whose addresses the traced image's cannot explain.
  if (probe->exec_seen_) return 0;
  if (size < GOTRACE_EVENT_HEADER_SIZE) {
    ++probe->malformed_records_;
    return 0;
  }
  const auto* event = static_cast<const gotrace_alloc_event*>(data);
  if (event->stack_depth > GOTRACE_MAX_STACK_DEPTH ||
      size < GOTRACE_EVENT_HEADER_SIZE + uint64_t(event->stack_depth) * 8) {
    ++probe->malformed_records_;
    return 0;
  }
  probe->handler_(*event);
  return 0;
}

int AllocProbe::event_fd() const { return ring_buffer__epoll_fd(ring_); }

Result<uint64_t> AllocProbe::consume() {
  int consumed = ring_buffer__consume(ring_);
  if (consumed < 0 && consumed != -EINTR) return make_error("reading the BPF ring buffer: {}", errno_text(consumed));
  if (!exec_seen_ && exec_watch_->record_lost()) exec_seen_ = ExecSeen{std::chrono::steady_clock::now(), false};
  return uint64_t(consumed < 0 ? 0 : consumed);
}

Status AllocProbe::start_sampling(uint64_t rate) {
  // The table holds the distribution's quantiles at evenly spaced
  // probabilities, so that a uniformly chosen entry is an exponentially
  // distributed interval with mean `rate` (BPF has no floating point).
  std::vector<uint64_t> intervals(GOTRACE_SAMPLE_INTERVALS);
  for (uint32_t i = 0; i < GOTRACE_SAMPLE_INTERVALS; ++i) {
    double u = (i + 0.5) / GOTRACE_SAMPLE_INTERVALS;
    intervals[i] = static_cast<uint64_t>(std::llround(-std::log(u) * double(rate)));
    if (int err = bpf_map__update_elem(skeleton_->maps.sample_intervals, &i, sizeof(i), &intervals[i],
                                       sizeof(uint64_t), 0);
        err != 0)
      return make_error("cannot fill the sampling table: {}", errno_text(err));
  }
  // Each CPU starts its countdown at a random interval too, not at zero.
  auto cpus = possible_cpus();
  if (!cpus) return with_context(cpus.error(), "cannot start the sampling countdown");
  std::vector<gotrace_cpu_totals> start(*cpus);
  std::mt19937_64 random(std::random_device{}());
  for (auto& cpu : start) cpu.bytes_until_sample = intervals[random() % GOTRACE_SAMPLE_INTERVALS];
  uint32_t zero = 0;
  if (int err = bpf_map__update_elem(skeleton_->maps.cpu_totals, &zero, sizeof(zero), start.data(),
                                     start.size() * sizeof(gotrace_cpu_totals), 0);
      err != 0)
    return make_error("cannot start the sampling countdown: {}", errno_text(err));
  return Ok{};
}

Result<KernelTotals> AllocProbe::kernel_totals() const {
  auto cpus = possible_cpus();
  if (!cpus) return with_context(cpus.error(), "cannot read the kernel's allocation totals");
  std::vector<gotrace_cpu_totals> values(*cpus);
  uint32_t zero = 0;
  if (int err = bpf_map__lookup_elem(skeleton_->maps.cpu_totals, &zero, sizeof(zero), values.data(),
                                     values.size() * sizeof(gotrace_cpu_totals), 0);
      err != 0)
    return make_error("cannot read the kernel's allocation totals: {}", errno_text(err));
  KernelTotals totals;
  for (const auto& cpu : values) {
    totals.allocations += cpu.allocations;
    totals.requested_bytes += cpu.requested_bytes;
  }
  return totals;
}

uint64_t AllocProbe::observed_load_bias() const {
  // Written by the BPF program at every hit; read through the mmapped .bss.
  return *reinterpret_cast<volatile __u64*>(&skeleton_->bss->observed_load_bias);
}

Result<ProbeCounts> AllocProbe::counts() const {
  auto cpus = possible_cpus();
  if (!cpus) return with_context(cpus.error(), "cannot read the probe's counters");
  ProbeCounts counts{};
  std::vector<uint64_t> values(*cpus);
  for (uint32_t counter = 0; counter < GOTRACE_KERNEL_COUNTER_COUNT; ++counter) {
    if (int err = bpf_map__lookup_elem(skeleton_->maps.probe_counters, &counter, sizeof(counter), values.data(),
                                       values.size() * sizeof(uint64_t), 0);
        err != 0)
      return make_error("cannot read the probe's counter {}: {}", kProbeCounters[counter].name, errno_text(err));
    for (uint64_t v : values) counts[counter] += v;
  }
  counts[GOTRACE_COUNTER_MALFORMED_RECORD] = malformed_records_;
  return counts;
}

}  // namespace gotrace
