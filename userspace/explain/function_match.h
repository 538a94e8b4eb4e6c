// Whether a function was compiled from the same source in two binaries: the
// same size, and at every byte of its code the same frames (the function
// and the ones inlined into it) on the same lines of the same files of the
// main module. Frames in files outside the module (the standard library,
// dependencies) are compared by function only: their paths, and a patched
// standard library's lines, may differ between two installs of one release.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "symbolizer/go_binary.h"

namespace gotrace {

// A file's name in the module ("pkg/file.go"), or nullopt outside it.
using ModuleFileName = std::function<std::optional<std::string>(std::string_view file)>;

// The functions of `binary` named `name` as the pclntab does
// ("main.F[go.shape.int]") or as the runtime prints it ("main.F[...]": every
// instantiation).
std::vector<FunctionInfo> functions_named(const GoBinary& binary, std::string_view name);

// Empty when `function` of `a` and the function of the same name in `b`
// match; else why not, e.g. "code differs in size (312 bytes, 298 rebuilt)".
std::string compare_function(const GoBinary& a, const FunctionInfo& function, const ModuleFileName& a_files,
                             const GoBinary& b, const ModuleFileName& b_files);

}  // namespace gotrace
