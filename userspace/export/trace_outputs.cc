#include "userspace/export/trace_outputs.h"

#include "userspace/export/folded_writer.h"
#include "userspace/profile/call_sites.h"

namespace gotrace {
namespace {

// Streams one output through `write` into the file, and commits it.
Status write_streamed(const OutputPath& output, const std::function<Status(ByteSink&)>& write) {
  auto file = OutputFile::create(output);
  if (!file) return file.error();
  if (Status written = write(*file); !written) return written;
  return file->commit();
}

}  // namespace

Status write_trace_outputs(const Profile& profile, const OutputFiles& files, const PprofMetadata& metadata,
                           std::ostream& table_out) {
  std::string problems;
  auto note = [&](const Status& status) {
    if (!status) problems += (problems.empty() ? "" : "\n") + status.error().message;
  };
  if (!files.pprof_path.empty())
    note(write_streamed(files.named()[0], [&](ByteSink& sink) { return write_pprof(profile, metadata, sink); }));
  FoldedOptions folded{.bytes = false, .type_frame = files.folded_types, .process_frame = files.folded_process};
  if (!files.folded_path.empty())
    note(write_streamed(files.named()[1], [&](ByteSink& sink) { return write_folded(profile, folded, sink); }));
  if (files.pprof_path.empty() && files.folded_path.empty())
    table_out << format_call_site_table(call_sites(profile), profile.totals, 20) << std::flush;
  if (!problems.empty()) return Error{problems};
  return Ok{};
}

}  // namespace gotrace
