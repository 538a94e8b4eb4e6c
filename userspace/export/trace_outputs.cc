#include "userspace/export/trace_outputs.h"

#include "base/output_file.h"
#include "userspace/export/folded_writer.h"
#include "userspace/profile/call_sites.h"

namespace gotrace {

Status write_trace_outputs(const Profile& profile, const OutputFiles& files, const PprofMetadata& metadata,
                           std::ostream& table_out) {
  Status status = Ok{};
  if (!files.pprof_path.empty()) {
    auto encoded = encode_pprof(profile, metadata);
    status = encoded ? write_file_atomically(files.pprof_path, *encoded) : Status(encoded.error());
  }
  if (!files.folded_path.empty()) {
    std::string folded = encode_folded(profile, {.bytes = false, .type_frame = files.folded_types});
    Status written = write_file_atomically(files.folded_path, folded);
    if (!written && status) status = written;
  }
  if (files.pprof_path.empty() && files.folded_path.empty())
    table_out << format_call_site_table(call_sites(profile), profile.totals, 20) << std::flush;
  return status;
}

}  // namespace gotrace
