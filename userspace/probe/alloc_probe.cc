#include "userspace/probe/alloc_probe.h"

#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <random>

#include "alloc_probe.skel.h"

namespace gotrace {
namespace {

// libbpf's own messages go nowhere unless asked for: errors are reported
// through the return values, as one line that names the cause.
int quiet_libbpf(enum libbpf_print_level, const char*, va_list) { return 0; }

std::string errno_text(int error) { return std::strerror(error < 0 ? -error : error); }

}  // namespace

std::optional<std::string> missing_bpf_privileges() {
  if (geteuid() == 0) return std::nullopt;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) return "cannot read this process's capabilities";
  auto has = [&](int cap) { return (data[cap / 32].effective >> (cap % 32)) & 1; };
  std::string missing;
  for (auto [cap, name] : {std::pair{CAP_BPF, "CAP_BPF"}, {CAP_PERFMON, "CAP_PERFMON"}, {CAP_SYS_ADMIN, "CAP_SYS_ADMIN"}}) {
    if (!has(cap)) missing += std::string(missing.empty() ? "" : ", ") + name;
  }
  if (missing.empty()) return std::nullopt;
  return "loading the BPF probe needs root, or CAP_BPF with CAP_PERFMON and CAP_SYS_ADMIN (missing: " + missing + ")";
}

Result<std::unique_ptr<AllocProbe>> AllocProbe::attach(const ProbeTarget& target, AllocationHandler handler) {
  if (target.sites.empty() || target.sites.size() > GOTRACE_MAX_ENTRY_POINTS)
    return make_error("pid {}: {} allocation entry points to probe (1 to {} supported)", target.pid,
                      target.sites.size(), GOTRACE_MAX_ENTRY_POINTS);
  libbpf_set_print(quiet_libbpf);
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
  if (int err = bpf_map__set_max_entries(probe->skeleton_->maps.alloc_events, target.ring_buffer_bytes); err != 0)
    return make_error("cannot size the BPF ring buffer: {}", errno_text(err));
  if (int err = alloc_probe__load(probe->skeleton_); err != 0)
    return make_error("cannot load the BPF probe: {}", errno_text(err));

  if (target.sample_rate != 0) {
    if (Status s = probe->start_sampling(target.sample_rate); !s) return s.error();
  }

  bpf_program* program = target.program == ProbeProgram::kEmpty ? probe->skeleton_->progs.uprobe__empty
                                                                 : probe->skeleton_->progs.uprobe__go_allocator;
  for (size_t i = 0; i < target.sites.size(); ++i) {
    LIBBPF_OPTS(bpf_uprobe_opts, options, .bpf_cookie = i);
    bpf_link* link = bpf_program__attach_uprobe_opts(program, target.pid,
                                                     target.binary_path.c_str(), target.sites[i].file_offset,
                                                     &options);
    if (link == nullptr)
      return make_error("pid {}: cannot attach a uprobe to {} in '{}': {}", target.pid, target.sites[i].function,
                        target.binary_path, errno_text(errno));
    probe->links_.push_back(link);
  }

  probe->ring_ = ring_buffer__new(bpf_map__fd(probe->skeleton_->maps.alloc_events), &AllocProbe::on_event,
                                  probe.get(), nullptr);
  if (probe->ring_ == nullptr) return make_error("cannot read the BPF ring buffer: {}", errno_text(errno));
  return probe;
}

AllocProbe::~AllocProbe() {
  if (ring_ != nullptr) ring_buffer__free(ring_);
  for (bpf_link* link : links_) bpf_link__destroy(link);
  if (skeleton_ != nullptr) alloc_probe__destroy(skeleton_);
}

int AllocProbe::on_event(void* context, void* data, size_t size) {
  auto* probe = static_cast<AllocProbe*>(context);
  if (size < GOTRACE_EVENT_HEADER_SIZE) {
    ++probe->malformed_;
    return 0;
  }
  const auto* event = static_cast<const gotrace_alloc_event*>(data);
  if (event->stack_depth > GOTRACE_MAX_STACK_DEPTH ||
      size < GOTRACE_EVENT_HEADER_SIZE + uint64_t(event->stack_depth) * 8) {
    ++probe->malformed_;
    return 0;
  }
  probe->handler_(*event);
  return 0;
}

int AllocProbe::event_fd() const { return ring_buffer__epoll_fd(ring_); }

Result<uint64_t> AllocProbe::consume() {
  int consumed = ring_buffer__consume(ring_);
  if (consumed < 0 && consumed != -EINTR) return make_error("reading the BPF ring buffer: {}", errno_text(consumed));
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
    if (bpf_map__update_elem(skeleton_->maps.sample_intervals, &i, sizeof(i), &intervals[i], sizeof(uint64_t), 0) != 0)
      return make_error("cannot fill the sampling table: {}", errno_text(errno));
  }
  // Each CPU starts its countdown at a random interval too, not at zero.
  int cpus = libbpf_num_possible_cpus();
  std::vector<gotrace_cpu_totals> start(cpus > 0 ? cpus : 1);
  std::mt19937_64 random(std::random_device{}());
  for (auto& cpu : start) cpu.bytes_until_sample = intervals[random() % GOTRACE_SAMPLE_INTERVALS];
  uint32_t zero = 0;
  if (bpf_map__update_elem(skeleton_->maps.cpu_totals, &zero, sizeof(zero), start.data(),
                           start.size() * sizeof(gotrace_cpu_totals), 0) != 0)
    return make_error("cannot start the sampling countdown: {}", errno_text(errno));
  return Ok{};
}

KernelTotals AllocProbe::kernel_totals() const {
  KernelTotals totals;
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return totals;
  std::vector<gotrace_cpu_totals> values(cpus);
  uint32_t zero = 0;
  if (bpf_map__lookup_elem(skeleton_->maps.cpu_totals, &zero, sizeof(zero), values.data(),
                           values.size() * sizeof(gotrace_cpu_totals), 0) != 0)
    return totals;
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

uint64_t total_lost(const LossCounts& losses) {
  uint64_t total = 0;
  for (const LossCause& cause : kLossCauses) total += losses[cause.index];
  return total;
}

LossCounts AllocProbe::losses() const {
  LossCounts totals{};
  totals[kLossMalformedRecord] = malformed_;
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return totals;
  std::vector<uint64_t> values(cpus);
  for (uint32_t cause = 0; cause < GOTRACE_LOSS_COUNT; ++cause) {
    if (bpf_map__lookup_elem(skeleton_->maps.loss_counters, &cause, sizeof(cause), values.data(),
                             values.size() * sizeof(uint64_t), 0) != 0)
      continue;
    for (uint64_t v : values) totals[cause] += v;
  }
  return totals;
}

}  // namespace gotrace
