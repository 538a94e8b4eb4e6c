// `--dir DIR`: the agent's profiles as files, one per process and interval,
// kept under a size cap.
//
// A profile goes to DIR/SERVICE/SERVICE.PID.TIME.pb.gz, TIME the interval's
// start in UTC (20261204T121500Z): `ls DIR/orders` lists a service's
// profiles in time order, and a file's name says whose it is and when. Each
// is written whole or not at all (base/output_file.h). When the files take
// more than the cap, the oldest go first. Only files named as the agent
// names them, in DIR's subdirectories, are ever counted or removed: nothing
// else in DIR is touched, and a symlink is never followed out of it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace gotrace {

class ProfileDirectory {
 public:
  // Creates DIR (and its parents) when missing; fails when it is not a
  // directory gotrace can write. `max_bytes` 0 is no cap.
  static Result<ProfileDirectory> open(const std::string& dir, uint64_t max_bytes);

  // Writes one profile; returns its path. Then removes the oldest profiles
  // while the files take more than the cap, counted in removed().
  Result<std::string> write(std::string_view service, int pid, std::chrono::system_clock::time_point start,
                            std::string_view gzipped_pprof);

  const std::string& dir() const { return dir_; }
  uint64_t removed() const { return removed_; }
  uint64_t bytes() const { return bytes_; }  // what the profiles took after the last write

 private:
  ProfileDirectory(std::string dir, uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}
  // Sums the profiles' sizes and removes the oldest past the cap.
  void enforce_cap();

  std::string dir_;
  uint64_t max_bytes_;
  uint64_t removed_ = 0;
  uint64_t bytes_ = 0;
};

// A service name as a file name: what is not a letter, digit, '-', '_' or
// '.' becomes '_', and a name of dots only, or empty, is "_".
std::string file_safe(std::string_view name);

}  // namespace gotrace
