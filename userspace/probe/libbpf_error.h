// libbpf's errors as text, for the BPF loaders of this folder.
#pragma once

#include <cstring>
#include <string>

namespace gotrace {

// The text of an errno given either way libbpf gives one: as a negative
// return value, or in errno.
inline std::string errno_text(int error) { return std::strerror(error < 0 ? -error : error); }

}  // namespace gotrace
