#include "userspace/profile/runtime_stack_rules.h"

namespace gotrace {

namespace {

bool at_least(const GoBinary& binary, int major, int minor) {
  auto release = binary.build_info().release();
  return release && release->at_least(major, minor);
}

}  // namespace

RuntimeStackRules::RuntimeStackRules(const GoBinary& binary)
    : wrapper_func_id_(binary.wrapper_func_id()),
      // runtime/pprof's protomem.go hides internal/runtime/ from Go 1.24 on.
      trims_internal_runtime_(at_least(binary, 1, 24)),
      // mProf_Malloc's callers(skip, ...): 4 up to Go 1.23 (mProf_Malloc,
      // profilealloc, mallocgc and its caller), 5 in 1.24 and 1.25 (mallocgc
      // calls a function per size class, which calls profilealloc), 3 from
      // 1.26 (mallocgc stays).
      skipped_leaf_frames_(at_least(binary, 1, 26) ? 0 : 1) {}

RuntimeStackRules::Root RuntimeStackRules::root(const Frame& physical) const {
  if (physical.function == "runtime.goexit") return Root::kBeyondRoot;
  // The unwinder stops after a frame at the top of a stack (mstart, rt0_go),
  // and after one that switched stacks (systemstack, mcall, morestack): it
  // is not told to jump stacks when it records a profile's stack.
  if (physical.func_flag & (kFuncFlagTopFrame | kFuncFlagSpWrite)) return Root::kLastFrame;
  return Root::kNo;
}

bool RuntimeStackRules::hides(const Frame& frame, std::string_view callee) const {
  if (!wrapper_func_id_ || frame.func_id != *wrapper_func_id_) return false;
  // runtime.elideWrapperCalling: a wrapper that called a panic function
  // instead of the wrapped function stays, to show where the panic came from.
  return callee != "runtime.gopanic" && callee != "runtime.sigpanic" && callee != "runtime.panicwrap";
}

bool RuntimeStackRules::trims_at_leaf(std::string_view function) const {
  return function.starts_with("runtime.") || (trims_internal_runtime_ && function.starts_with("internal/runtime/"));
}

}  // namespace gotrace
