// Files gotrace writes its results to.
#pragma once

#include <string>

#include "base/result.h"

namespace gotrace {

// Checks, before anything is attached, that `path` can be written at the
// end ("" is no file): a trace must not be lost to a typo in a path.
Status check_output_writable(const std::string& path);

// Writes `bytes` to `path` through a temporary file renamed into place, so
// that a reader never sees half a file.
Status write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace gotrace
