#include "tests/support/scratch_file.h"

#include <unistd.h>

#include <fstream>
#include <iterator>

namespace gotrace::testing {

ScratchFile::ScratchFile(const std::string& name)
    : path_((std::filesystem::temp_directory_path() / ("gotrace-test-" + std::to_string(getpid()) + "-" + name))
                .string()) {}

ScratchFile::~ScratchFile() {
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

void ScratchFile::write(const std::string& bytes) const { std::ofstream(path_, std::ios::binary) << bytes; }

std::string ScratchFile::read() const { return read_file(path_); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace gotrace::testing
