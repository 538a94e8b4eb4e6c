// Files a test writes and reads back.
#pragma once

#include <filesystem>
#include <string>

namespace gotrace::testing {

// A path in the temporary directory, unique to this test process, removed
// when the ScratchFile goes: where a test has gotrace write its output, or
// keeps a copy of a binary it damages.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& name);
  ~ScratchFile();
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::string& path() const { return path_; }
  void write(const std::string& bytes) const;
  std::string read() const;

 private:
  std::string path_;
};

// The whole file; "" when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace gotrace::testing
