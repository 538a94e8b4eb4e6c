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
#include <algorithm>
#include <random>
#include <tuple>

#include "alloc_probe.skel.h"
#include "userspace/probe/libbpf_error.h"
#include "userspace/probe/uprobe_multi_link.h"

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

Result<std::unique_ptr<AllocProbe>> AllocProbe::load(const ProbeConfig& config, AllocationHandler on_allocation,
                                                     ExecHandler on_exec) {
  libbpf_set_print(config.verbose ? libbpf_to_stderr : quiet_libbpf);
  std::unique_ptr<AllocProbe> probe(new AllocProbe());
  probe->config_ = config;
  probe->on_allocation_ = std::move(on_allocation);
  probe->on_exec_ = std::move(on_exec);

  probe->skeleton_ = alloc_probe__open();
  if (probe->skeleton_ == nullptr) return make_error("cannot open the BPF probe: {}", errno_text(errno));
  probe->skeleton_->rodata->sample_rate = config.sample_rate;
  probe->skeleton_->rodata->wakeup_bytes = config.ring_buffer_bytes / 4;
  auto& maps = probe->skeleton_->maps;
  if (int err = bpf_map__set_max_entries(maps.alloc_events, config.ring_buffer_bytes); err != 0)
    return make_error("cannot size the BPF ring buffer: {}", errno_text(err));
  for (bpf_map* map : {maps.process_stats, maps.process_images})
    if (int err = bpf_map__set_max_entries(map, std::max<uint32_t>(config.max_processes, 1)); err != 0)
      return make_error("cannot size the BPF probe's process tables: {}", errno_text(err));
  // Multi-uprobe links: libbpf 1.1 does not know the attach type by its
  // section name, so it is set by hand.
  for (bpf_program* program : {probe->skeleton_->progs.uprobe__go_allocator, probe->skeleton_->progs.uprobe__heap_sample,
                               probe->skeleton_->progs.uprobe__heap_free, probe->skeleton_->progs.uprobe__heap_cycle,
                               probe->skeleton_->progs.uprobe__empty})
    bpf_program__set_expected_attach_type(program, bpf_attach_type(kUprobeMultiAttachType));
  if (int err = alloc_probe__load(probe->skeleton_); err != 0)
    return make_error("cannot load the BPF probe: {}{}", errno_text(err),
                      config.verbose ? "" : " (-v shows the verifier's log)");
  if (config.sample_rate != 0) {
    if (Status s = probe->start_sampling(config.sample_rate); !s) return s.error();
  }
  // Forked now, the attacher holds the programs it attaches.
  auto attacher = LinkAttacher::start();
  if (!attacher) return attacher.error();
  probe->attacher_ = std::move(*attacher);
  probe->skeleton_->bss->exact_recording = config.record_entry_points ? 1 : 0;
  int events_fd = bpf_map__fd(maps.alloc_events);
  if (events_fd < 0) return make_error("cannot find the BPF ring buffer: {}", errno_text(events_fd));
  auto watch = ProcessWatch::attach(events_fd, config.exec_reports);
  if (!watch) return watch.error();
  probe->watch_ = std::move(*watch);
  probe->ring_ = ring_buffer__new(events_fd, &AllocProbe::on_event, probe.get(), nullptr);
  if (probe->ring_ == nullptr) return make_error("cannot read the BPF ring buffer: {}", errno_text(errno));
  return probe;
}

Status AllocProbe::add_process(const ProcessProbe& process) {
  if (process.slot >= config_.max_processes)
    return make_error("pid {}: more processes than the trace has room for ({})", process.pid, config_.max_processes);
  if (process.sites.empty() || process.sites.size() > GOTRACE_MAX_ENTRY_POINTS)
    return make_error("pid {}: {} allocation entry points to probe (1 to {} supported)", process.pid,
                      process.sites.size(), GOTRACE_MAX_ENTRY_POINTS);
  if (processes_.size() <= process.slot) processes_.resize(process.slot + 1);
  // The process's counters start at zero, and its image is in place before
  // the first hit.
  uint32_t slot = process.slot;
  if (Status s = reset_stats(slot); !s) return s;
  if (int err = bpf_map__update_elem(skeleton_->maps.process_images, &slot, sizeof(slot), &process.image,
                                     sizeof(process.image), 0);
      err != 0)
    return make_error("pid {}: cannot hand the BPF probe the process's image: {}", process.pid, errno_text(err));
  Attached attached;
  attached.pid = process.pid;
  // The heap profiler's probes first: an exact trace's in-use figures then
  // hold every object sampled while it recorded.
  if (process.heap && config_.program == ProbeProgram::kRecord) {
    for (auto [program, site, index] :
         {std::tuple{skeleton_->progs.uprobe__heap_sample, &process.heap->sample, GOTRACE_SITE_HEAP_SAMPLE},
          std::tuple{skeleton_->progs.uprobe__heap_free, &process.heap->free, GOTRACE_SITE_HEAP_FREE},
          std::tuple{skeleton_->progs.uprobe__heap_cycle, &process.heap->cycle, GOTRACE_SITE_HEAP_CYCLE}}) {
      auto link = attach_sites(program, process, {{site->file_offset, uint32_t(index)}});
      if (!link) {
        detach(attached);
        return link.error();
      }
      attached.heap.push_back(std::move(*link));
    }
  }
  if (process.record_entry_points) {
    std::vector<std::pair<uint64_t, uint32_t>> sites;
    for (size_t i = 0; i < process.sites.size(); ++i) sites.emplace_back(process.sites[i].file_offset, uint32_t(i));
    bpf_program* program = config_.program == ProbeProgram::kEmpty ? skeleton_->progs.uprobe__empty
                                                                    : skeleton_->progs.uprobe__go_allocator;
    auto link = attach_sites(program, process, sites);
    if (!link) {
      detach(attached);
      return link.error();
    }
    attached.entry_points = std::move(*link);
  }
  processes_[slot] = std::move(attached);
  return Ok{};
}

// One multi-uprobe link for `pid` alone: the kernel puts its breakpoints
// into that process's memory only. Each site's cookie is the process's slot
// and the site's index.
Result<Fd> AllocProbe::attach_sites(bpf_program* program, const ProcessProbe& process,
                                     const std::vector<std::pair<uint64_t, uint32_t>>& offsets_and_sites) {
  std::vector<uint64_t> offsets, cookies;
  for (auto [offset, site] : offsets_and_sites) {
    offsets.push_back(offset);
    cookies.push_back(GOTRACE_COOKIE(process.slot, site));
  }
  auto link = attacher_->attach(bpf_program__fd(program), process.binary_path, offsets, cookies, process.pid);
  if (!link)
    return make_error("pid {}: cannot attach uprobes to '{}': {}", process.pid, process.binary_path,
                      link.error().message);
  return link;
}

void AllocProbe::detach(Attached& attached) {
  // Closing a link's descriptor detaches its uprobes: a failure leaves
  // nothing to undo.
  std::vector<Fd> links = std::move(attached.heap);
  links.push_back(std::move(attached.entry_points));
  attached.heap.clear();
  closer_.close_later(std::move(links));
  closer_.drain();
}

void AllocProbe::remove_process(uint32_t slot) {
  if (slot >= processes_.size()) return;
  Attached& attached = processes_[slot];
  std::vector<Fd> links = std::move(attached.heap);
  links.push_back(std::move(attached.entry_points));
  attached.heap.clear();
  closer_.close_later(std::move(links));
}

Status AllocProbe::watch(int pid, uint32_t flags) { return watch_->watch(pid, flags); }

void AllocProbe::resume(int pid) { watch_->resume(pid); }

int AllocProbe::record_program_fd() const { return bpf_program__fd(skeleton_->progs.uprobe__go_allocator); }

void AllocProbe::stop_recording_entry_points() {
  // The program reads the flag on every hit, through the same mapping.
  *reinterpret_cast<volatile __u32*>(&skeleton_->bss->exact_recording) = 0;
}

void AllocProbe::detach_entry_points() {
  std::vector<Fd> links;
  for (Attached& attached : processes_) links.push_back(std::move(attached.entry_points));
  closer_.close_later(std::move(links));
}

AllocProbe::~AllocProbe() {
  if (ring_ != nullptr) ring_buffer__free(ring_);
  for (uint32_t slot = 0; slot < processes_.size(); ++slot) remove_process(slot);
  closer_.drain();
  watch_.reset();
  attacher_.reset();
  if (skeleton_ != nullptr) alloc_probe__destroy(skeleton_);
}

bool AllocProbe::take_exec_record(const void* data, size_t size) {
  if (size != sizeof(gotrace_exec_event)) return false;
  const auto* exec = static_cast<const gotrace_exec_event*>(data);
  if (exec->magic != GOTRACE_EXEC_EVENT_MAGIC) return false;
  ExecSeen seen;
  seen.pid = int(exec->tgid);
  // bpf_ktime_get_ns() is CLOCK_MONOTONIC, as steady_clock is.
  seen.time = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(exec->time_ns));
  seen.stopped = exec->stopped != 0;
  for (Attached& attached : processes_)
    if (attached.pid == seen.pid) attached.ended = true;
  on_exec_(seen);
  return true;
}

int AllocProbe::on_event(void* context, void* data, size_t size) {
  auto* probe = static_cast<AllocProbe*>(context);
  // A ring buffer its producers fill as fast as it drains would keep one
  // consume() going for ever: after this many records libbpf is told to
  // stop (the record is taken first; the rest wait for the next drain).
  bool budget_spent = ++probe->consumed_now_ >= kMaxRecordsPerConsume;
  int stop = budget_spent ? -ECANCELED : 0;
  if (probe->take_exec_record(data, size)) return stop;
  if (size < GOTRACE_EVENT_HEADER_SIZE) {
    ++probe->malformed_records_;
    return stop;
  }
  const auto* event = static_cast<const gotrace_alloc_event*>(data);
  if (event->stack_depth > GOTRACE_MAX_STACK_DEPTH ||
      size < GOTRACE_EVENT_HEADER_SIZE + uint64_t(event->stack_depth) * 8 || event->slot >= probe->processes_.size()) {
    ++probe->malformed_records_;
    return stop;
  }
  // Past its exec the records of a slot are another image's (the same
  // binary, re-exec'd, keeps its uprobes), whose addresses the traced
  // image's cannot explain.
  if (probe->processes_[event->slot].ended) return stop;
  probe->on_allocation_(*event);
  return stop;
}

int AllocProbe::event_fd() const { return ring_buffer__epoll_fd(ring_); }

Result<uint64_t> AllocProbe::consume() {
  consumed_now_ = 0;
  int consumed = ring_buffer__consume(ring_);
  if (consumed == -ECANCELED) consumed = int(consumed_now_);  // the budget, spent
  if (consumed < 0 && consumed != -EINTR) return make_error("reading the BPF ring buffer: {}", errno_text(consumed));
  if (!exec_record_lost_ && watch_->record_lost()) {
    // Which process exec'd is not known: every traced one is treated as
    // having done so, which ends them all where gotrace noticed.
    exec_record_lost_ = true;
    for (Attached& attached : processes_)
      if (!attached.ended) {
        attached.ended = true;
        on_exec_(ExecSeen{attached.pid, std::chrono::steady_clock::now(), false, false});
      }
  }
  return uint64_t(consumed < 0 ? 0 : consumed);
}

Result<uint64_t> AllocProbe::end_recording_and_drain() {
  // The programs read the flag on every hit, through the same mapping.
  *reinterpret_cast<volatile __u32*>(&skeleton_->bss->trace_ended) = 1;
  uint64_t total = 0;
  for (int round = 0; round < 256; ++round) {
    auto consumed = consume();
    if (!consumed) return consumed.error();
    total += *consumed;
    if (*consumed < kMaxRecordsPerConsume) break;
  }
  return total;
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
  std::vector<long long> start(*cpus);
  std::mt19937_64 random(std::random_device{}());
  for (auto& cpu : start) cpu = (long long)intervals[random() % GOTRACE_SAMPLE_INTERVALS];
  uint32_t zero = 0;
  if (int err = bpf_map__update_elem(skeleton_->maps.bytes_until_sample, &zero, sizeof(zero), start.data(),
                                     start.size() * sizeof(long long), 0);
      err != 0)
    return make_error("cannot start the sampling countdown: {}", errno_text(err));
  return Ok{};
}

// A per-CPU map's values for `key`, one per possible CPU.
template <typename Value>
Result<std::vector<Value>> AllocProbe::per_cpu(bpf_map* map, uint32_t key) const {
  auto cpus = possible_cpus();
  if (!cpus) return cpus.error();
  std::vector<Value> values(*cpus);
  if (int err = bpf_map__lookup_elem(map, &key, sizeof(key), values.data(), values.size() * sizeof(Value), 0);
      err != 0)
    return make_error("{}", errno_text(err));
  return values;
}

Status AllocProbe::reset_stats(uint32_t slot) {
  auto cpus = possible_cpus();
  if (!cpus) return cpus.error();
  std::vector<gotrace_process_stats> zeros(*cpus);
  if (int err = bpf_map__update_elem(skeleton_->maps.process_stats, &slot, sizeof(slot), zeros.data(),
                                     zeros.size() * sizeof(gotrace_process_stats), 0);
      err != 0)
    return make_error("cannot reset the probe's counters: {}", errno_text(err));
  return Ok{};
}

Result<KernelTotals> AllocProbe::kernel_totals(uint32_t slot) const {
  auto values = per_cpu<gotrace_process_stats>(skeleton_->maps.process_stats, slot);
  if (!values) return with_context(values.error(), "cannot read the kernel's allocation totals");
  KernelTotals totals;
  for (const auto& cpu : *values) {
    totals.allocations += cpu.allocations;
    totals.requested_bytes += cpu.requested_bytes;
  }
  return totals;
}

Result<ProbeCounts> AllocProbe::counts(uint32_t slot) const {
  auto values = per_cpu<gotrace_process_stats>(skeleton_->maps.process_stats, slot);
  if (!values) return with_context(values.error(), "cannot read the probe's counters");
  ProbeCounts counts{};
  for (const auto& cpu : *values)
    for (uint32_t counter = 0; counter < GOTRACE_KERNEL_COUNTER_COUNT; ++counter) counts[counter] += cpu.counters[counter];
  return counts;
}

Result<ProbeCounts> AllocProbe::unattributed_counts() const {
  ProbeCounts counts{};
  for (uint32_t counter = 0; counter < GOTRACE_KERNEL_COUNTER_COUNT; ++counter) {
    auto values = per_cpu<uint64_t>(skeleton_->maps.unattributed_counters, counter);
    if (!values)
      return with_context(values.error(), fmt::format("cannot read the probe's counter {}", kProbeCounters[counter].name));
    for (uint64_t v : *values) counts[counter] += v;
  }
  counts[GOTRACE_COUNTER_MALFORMED_RECORD] = malformed_records_;
  return counts;
}

}  // namespace gotrace
