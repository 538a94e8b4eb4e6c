// Everything a finished trace writes: the pprof file, the folded stacks, or,
// with neither named, the table of top call sites.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "base/output_file.h"

#include "userspace/export/pprof_writer.h"
#include "userspace/profile/profile.h"

namespace gotrace {

// The files the user named for a trace's results.
struct OutputFiles {
  std::string pprof_path;     // -o: gzipped pprof; "" for none
  std::string folded_path;    // --folded; "" for none
  bool folded_types = false;  // --folded-types: the allocated type as the last frame
  bool folded_process = false;  // --folded-process: the process, NAME:PID, as the first frame

  // Each named file, with the option that named it ("-" is stdout).
  std::vector<OutputPath> named() const {
    return {{"--output", pprof_path}, {"--folded", folded_path}};
  }
};

// Writes each file named in `files`; with none, prints the top call sites
// on `table_out`. Every file is attempted; every failure is returned, a
// line each.
Status write_trace_outputs(const Profile& profile, const OutputFiles& files, const PprofMetadata& metadata,
                           std::ostream& table_out);

}  // namespace gotrace
