#include "tests/support/scratch_file.h"

#include <unistd.h>

#include <algorithm>
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

ScratchDirectory::ScratchDirectory(const std::string& name)
    : path_((std::filesystem::temp_directory_path() / ("gotrace-test-" + std::to_string(getpid()) + "-" + name))
                .string()) {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
  std::filesystem::create_directories(path_);
}

ScratchDirectory::~ScratchDirectory() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::vector<std::string> ScratchDirectory::names() const {
  std::vector<std::string> out;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(path_, error)) out.push_back(entry.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace gotrace::testing
