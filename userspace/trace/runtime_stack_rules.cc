#include "userspace/trace/runtime_stack_rules.h"

namespace gotrace {

RuntimeStackRules::RuntimeStackRules(const GoBinary& binary)
    : wrapper_func_id_(binary.wrapper_func_id()),
      // runtime/pprof's protomem.go hides internal/runtime/ from Go 1.24 on.
      trims_internal_runtime_(binary.build_info().release() && binary.build_info().release()->at_least(1, 24)) {}

RuntimeStackRules::Root RuntimeStackRules::root(std::string_view function) const {
  // runtime.systemstack is marked SPWRITE, where an unwinder that is not
  // told to jump stacks (callers() is not) stops, after including it.
  if (function == "runtime.systemstack") return Root::kLastFrame;
  if (function == "runtime.goexit") return Root::kBeyondRoot;
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
