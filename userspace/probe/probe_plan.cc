#include "userspace/probe/probe_plan.h"

#include <iostream>

#include "userspace/probe/entry_points.h"

namespace gotrace {
namespace {

// Tracing needs the register ABI (size in RAX, type in RBX).
constexpr GoRelease kOldestTraceableRelease{1, 17, 0};
// The newest release whose allocator entry points the tests have verified. A
// newer one may allocate through functions gotrace does not know, and would
// be undercounted silently, so it is refused unless the user opts in.
constexpr GoRelease kNewestVerifiedRelease{1, 27, 0};

Status check_release(const GoBinary& binary, const std::string& display_path, bool allow_unverified) {
  auto release = binary.build_info().release();
  const std::string& version = binary.build_info().go_version;
  if (!release || *release < kOldestTraceableRelease)
    return make_error("'{}': built by {}; tracing needs Go 1.17 or later (the register ABI)", display_path, version);
  bool newer = release->major > kNewestVerifiedRelease.major ||
               (release->major == kNewestVerifiedRelease.major && release->minor > kNewestVerifiedRelease.minor);
  if (newer && !allow_unverified)
    return make_error("'{}': built by {}, newer than go{}.{}, the newest release gotrace is verified on; its "
                      "allocator may have entry points gotrace would miss (--allow-unverified-go traces it anyway)",
                      display_path, version, kNewestVerifiedRelease.major, kNewestVerifiedRelease.minor);
  return Ok{};
}

// Allocations through a path gotrace does not understand would go uncounted
// without a word; probing it instead could count them twice or read
// arguments that are not mallocgc's. Refused unless told to trace the rest.
Status check_unverified(const std::vector<EntryPoint>& unverified, const std::string& display_path,
                        bool allow_unverified) {
  if (unverified.empty()) return Ok{};
  const EntryPoint& first = unverified.front();
  std::string what = fmt::format("{} ({})", first.function.name, first.how_found);
  if (unverified.size() > 1) what += fmt::format(", and {} more (gotrace info lists them)", unverified.size() - 1);
  if (!allow_unverified)
    return make_error("'{}': allocation path not understood: {}; its allocations would not be counted "
                      "(--allow-unverified-go traces the rest anyway)",
                      display_path, what);
  std::cerr << fmt::format("gotrace: warning: '{}': allocation path not understood, its allocations are not "
                           "counted: {}\n",
                           display_path, what);
  return Ok{};
}

}  // namespace

Result<ProbePlan> plan_probes(const std::string& open_path, const std::string& display_path, bool allow_unverified) {
  auto opened = GoBinary::open(open_path, display_path);
  if (!opened) return opened.error();
  ProbePlan plan;
  plan.binary = std::move(*opened);
  const GoBinary& binary = *plan.binary;
  if (Status s = check_release(binary, display_path, allow_unverified); !s) return s.error();
  auto found = find_allocation_entry_points(binary);
  if (!found) return found.error();
  if (Status s = check_unverified(found->unverified, display_path, allow_unverified); !s) return s.error();
  plan.mallocgc = found->entry_points.front().function;  // runtime.mallocgc first
  plan.goexit = binary.find_function("runtime.goexit");
  for (const EntryPoint& point : found->entry_points) {
    auto site = find_probe_site(binary, point.function);
    if (!site) return site.error();
    plan.sites.push_back(std::move(*site));
  }
  // Not having them only matters to the modes that need them, which say so.
  if (auto heap = find_heap_profiler_hooks(binary))
    plan.heap = std::move(*heap);
  else
    plan.heap_missing = heap.error().message;
  return plan;
}

}  // namespace gotrace
