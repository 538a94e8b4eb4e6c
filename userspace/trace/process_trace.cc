#include "userspace/trace/process_trace.h"

#include <algorithm>
#include <cstring>

#include "userspace/process/target_process.h"
#include "userspace/profile/profile_builder.h"

namespace gotrace {

ProcessTrace::ProcessTrace(uint32_t slot, ProcessIdentity identity, std::shared_ptr<const ProbePlan> plan,
                           uint64_t bias, ModeProbes probes, const TraceOptions& options)
    : slot_(slot), identity_(std::move(identity)), plan_(std::move(plan)), bias_(bias), probes_(std::move(probes)),
      heap_mode_(options.mode == TraceOptions::Mode::kHeap), start_(std::chrono::steady_clock::now()) {
  AllocatorModel model{plan_->binary->build_info().release()->at_least(1, 22)};
  // A pointer-free type, or none, takes the allocator's noscan size rules.
  auto noscan = [plan = plan_, bias](uint64_t type) { return type == 0 || plan->binary->type_is_pointer_free(type - bias); };
  aggregator_ = std::make_unique<StackAggregator>(model, noscan, options.sample_rate, options.max_memory);
  aggregator_->set_records_inuse(probes_.heap);
  if (probes_.heap) shaper_ = std::make_unique<HeapSampleShaper>(*plan_);
}

ProcessProbe ProcessTrace::probe_request(const std::string& attach_path) const {
  ProcessProbe request;
  request.pid = identity_.pid;
  request.slot = slot_;
  request.binary_path = attach_path;
  request.sites = plan_->sites;
  request.record_entry_points = probes_.entry_points;
  if (probes_.heap) request.heap = plan_->heap;
  gotrace_process_image& image = request.image;
  image.mallocgc_start = plan_->mallocgc.entry + bias_;
  image.mallocgc_end = plan_->mallocgc.end + bias_;
  if (plan_->goexit) {
    image.goexit_start = plan_->goexit->entry + bias_;
    image.goexit_end = plan_->goexit->end + bias_;
  }
  if (plan_->heap) {
    image.mem_profile_rate = plan_->heap->mem_profile_rate + bias_;
    image.special_kind_offset = plan_->heap->special_kind_offset;
    image.special_profile_kind = plan_->heap->special_profile_kind;
  }
  return request;
}

void ProcessTrace::take_event(const gotrace_alloc_event& event) {
  if (!aggregator_) return;  // its figures were handed over for good: a late event of it is no one's
  if (event.flags & GOTRACE_EVENT_HEAP_CYCLE) {
    // A cycle's end carries no time: it is the time it is read, a few
    // milliseconds late at most while the trace runs.
    uint64_t peak = aggregator_->peak_cycle();
    aggregator_->add(event);
    if (aggregator_->peak_cycle() != peak) peak_at_ = std::chrono::steady_clock::now() - start_;
    return;
  }
  if (!(event.flags & GOTRACE_EVENT_HEAP_SAMPLE) || !shaper_) return aggregator_->add(event);
  ++heap_samples_;
  heap_rate_ = event.sample_rate;
  std::memcpy(&shaped_, &event, GOTRACE_EVENT_HEADER_SIZE + size_t(event.stack_depth) * sizeof(uint64_t));
  shaper_->shape(shaped_, bias_);
  aggregator_->add(shaped_);
}

void ProcessTrace::end_by_exit(std::chrono::steady_clock::time_point at) {
  if (ended_) return;
  ended_ = at;
  exited_ = true;
  pidfd_.reset();
}

void ProcessTrace::end_by_guard(std::chrono::steady_clock::time_point at) {
  if (ended_) return;
  ended_ = at;
  pidfd_.reset();
}

void ProcessTrace::end_by_exec(const TargetExec& exec, std::chrono::steady_clock::time_point at) {
  if (ended_) return;
  // An exec while the probes were being attached is at the start.
  ended_ = std::max(at, start_);
  exec_ = exec;
  exec_->at = *ended_ - start_;
  pidfd_.reset();
}

void ProcessTrace::check_heap_profiling(std::chrono::steady_clock::time_point now) {
  if (!probes_.heap || !plan_->heap || ended_ || heap_turned_off_at_) return;
  auto rate = read_target_word(identity_.pid, plan_->heap->mem_profile_rate + bias_);
  if (rate && *rate == 0) heap_turned_off_at_ = now - start_;
}

TraceSummary ProcessTrace::summary(std::chrono::steady_clock::time_point trace_end, const TraceOptions& options) const {
  TraceSummary summary;
  summary.pid = identity_.pid;
  summary.duration = ended_.value_or(trace_end) - start_;
  summary.target_exited = exited_;
  summary.exec = exec_;
  summary.totals = aggregator_->totals();
  summary.sample_rate = options.sample_rate;
  summary.events = aggregator_->events();
  summary.distinct_stacks = aggregator_->stack_count();
  summary.merges = aggregator_->merges();
  summary.max_memory = options.max_memory;
  summary.verbose = options.verbose;
  std::optional<uint64_t> rate = probes_.mem_profile_rate;
  if (!rate && heap_rate_ != 0) rate = heap_rate_;  // as the samples said: it could not be read first
  summary.heap = {heap_mode_,
                  rate,
                  heap_samples_,
                  aggregator_->records_inuse(),
                  probes_.no_heap_reason,
                  aggregator_->inuse_totals(),
                  aggregator_->live_objects(),
                  aggregator_->pending_objects(),
                  aggregator_->cycles()};
  summary.heap.turned_off_at = heap_turned_off_at_;
  if (aggregator_->peak_cycle() != 0) {
    summary.heap.peak_inuse = aggregator_->peak_inuse_totals();
    summary.heap.peak_at = std::min(peak_at_, summary.duration);
  }
  return summary;
}

namespace {

// The executable's text as the process at `path` maps it at `bias`.
Mapping executable_mapping(const GoBinary& binary, uint64_t bias, const std::string& path) {
  const ElfFile& elf = binary.elf();
  TextMapping text = text_mapping(binary, bias);
  return {path, elf.gnu_build_id().empty() ? elf.go_build_id() : elf.gnu_build_id(), text.start, text.limit,
          text.file_offset};
}

}  // namespace

Profile ProcessTrace::build_profile() {
  const GoBinary& binary = *plan_->binary;
  ProcessLabel label{identity_.pid, identity_.name, identity_.container, 0};
  Profile profile = gotrace::build_profile(*aggregator_, binary, translator_for(binary, bias_, identity_.path),
                                           std::move(label), executable_mapping(binary, bias_, identity_.path));
  aggregator_.reset();
  return profile;
}

void ProcessTrace::forget_stacks() {
  aggregator_.reset();
  shaper_.reset();
}

std::function<Profile(const std::vector<RawStack>&, const AllocationTotals&)> ProcessTrace::profile_maker() const {
  return [plan = plan_, bias = bias_, identity = identity_](const std::vector<RawStack>& stacks,
                                                           const AllocationTotals& totals) {
    const GoBinary& binary = *plan->binary;
    ProcessLabel label{identity.pid, identity.name, identity.container, 0};
    return gotrace::build_profile(stacks, totals, binary, translator_for(binary, bias, identity.path),
                                  std::move(label), executable_mapping(binary, bias, identity.path));
  };
}

}  // namespace gotrace
