#include "userspace/trace/heap_samples.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace gotrace {

HeapSampleShaper::HeapSampleShaper(const ProbePlan& plan) : binary_(*plan.binary), types_(*plan.binary) {
  GoRelease release = binary_.build_info().release().value_or(GoRelease{});
  for (const ProbeSite& site : plan.sites)
    entry_points_.emplace(site.entry, type_register_of(site.function, release).value_or(ArgumentRegister::kRbx));
}

void HeapSampleShaper::shape(gotrace_alloc_event& event, uint64_t bias) {
  uint32_t depth = std::min<uint32_t>(event.stack_depth, GOTRACE_MAX_STACK_DEPTH);
  // The outermost entry point among the allocator's frames: its caller is
  // where exact tracing's stack starts.
  std::optional<uint32_t> outermost;
  ArgumentRegister type_register = ArgumentRegister::kRbx;
  for (uint32_t i = 0; i < depth && i < kAllocatorFrames; ++i) {
    auto function = binary_.pclntab().function_for_pc(event.pcs[i] - bias - 1);
    if (!function || !function->name.starts_with("runtime.")) break;
    if (auto entry = entry_points_.find(function->entry); entry != entry_points_.end()) {
      outermost = i;
      type_register = entry->second;
    }
  }
  bool type_known = event.flags & GOTRACE_EVENT_TYPE_KNOWN;
  if (!type_known) event.type = kUnknownTypeAddress;
  if (!outermost) return;  // not called from the allocator as known: kept whole
  uint32_t cut = *outermost + 1;
  std::memmove(event.pcs, event.pcs + cut, (depth - cut) * sizeof(uint64_t));
  event.stack_depth = depth - cut;
  if (event.stack_depth == 0 || type_known) return;
  std::vector<uint64_t> file_pcs(event.pcs, event.pcs + event.stack_depth);
  for (uint64_t& pc : file_pcs) pc -= bias;
  AllocationType type = types_.type_of(file_pcs, type_register);
  if (type.kind == AllocationType::Kind::kKnown) event.type = type.type_vaddr + bias;
  if (type.kind == AllocationType::Kind::kUntyped) event.type = 0;
}

}  // namespace gotrace
