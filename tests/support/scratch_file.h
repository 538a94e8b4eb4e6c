// Files a test writes and reads back.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

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

// A directory of its own in the temporary directory, unique to this test
// process, removed with everything in it when the ScratchDirectory goes:
// where a test checks what gotrace left next to its outputs.
class ScratchDirectory {
 public:
  explicit ScratchDirectory(const std::string& name);
  ~ScratchDirectory();
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;

  const std::string& path() const { return path_; }
  // The names in it, sorted.
  std::vector<std::string> names() const;

 private:
  std::string path_;
};

// The whole file; "" when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace gotrace::testing
