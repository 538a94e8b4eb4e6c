#include "userspace/export/trace_outputs.h"

#include "userspace/export/folded_writer.h"
#include "userspace/profile/call_sites.h"

namespace gotrace {

Status write_trace_outputs(const Profile& profile, const OutputFiles& files, const PprofMetadata& metadata,
                           std::ostream& table_out) {
  std::string problems;
  auto note = [&](const Status& status) {
    if (!status) problems += (problems.empty() ? "" : "\n") + status.error().message;
  };
  if (!files.pprof_path.empty()) {
    auto encoded = encode_pprof(profile, metadata);
    note(encoded ? write_output(files.named()[0], *encoded) : Status(encoded.error()));
  }
  if (!files.folded_path.empty())
    note(write_output(files.named()[1], encode_folded(profile, {.bytes = false, .type_frame = files.folded_types})));
  if (files.pprof_path.empty() && files.folded_path.empty())
    table_out << format_call_site_table(call_sites(profile), profile.totals, 20) << std::flush;
  if (!problems.empty()) return Error{problems};
  return Ok{};
}

}  // namespace gotrace
