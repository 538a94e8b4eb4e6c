#include "userspace/export/pprof_writer.h"

#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <unordered_map>

#include "export/profile.pb.h"

namespace gotrace {
namespace {

class StringTable {
 public:
  explicit StringTable(pprof::Profile* profile) : profile_(profile) { index(""); }
  int64_t index(std::string_view text) {
    auto [it, inserted] = ids_.emplace(std::string(text), ids_.size());
    if (inserted) profile_->add_string_table(it->first);
    return it->second;
  }

 private:
  pprof::Profile* profile_;
  std::unordered_map<std::string, int64_t> ids_;
};

// The gzip stream of `data`. zlib fails only when out of memory or handed
// bad parameters; either is reported.
Result<std::string> gzip(const std::string& data) {
  z_stream stream{};
  if (int err = deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16 /* gzip header */, 8,
                             Z_DEFAULT_STRATEGY);
      err != Z_OK)
    return make_error("cannot compress the profile: zlib error {}", err);
  std::string out(deflateBound(&stream, data.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = data.size();
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = out.size();
  // deflateBound leaves room for the whole stream, so one call finishes it.
  int err = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (err != Z_STREAM_END) return make_error("cannot compress the profile: zlib error {}", err);
  return out;
}

}  // namespace

Result<std::string> encode_pprof(const Profile& profile, const PprofMetadata& metadata) {
  pprof::Profile pb;
  StringTable strings(&pb);
  auto value_type = [&](pprof::ValueType* type, const char* name, const char* unit) {
    type->set_type(strings.index(name));
    type->set_unit(strings.index(unit));
  };
  value_type(pb.add_sample_type(), "alloc_objects", "count");
  value_type(pb.add_sample_type(), "alloc_space", "bytes");
  value_type(pb.mutable_period_type(), "space", "bytes");
  pb.set_period(metadata.period);
  pb.set_time_nanos(metadata.time_nanos);
  pb.set_duration_nanos(metadata.duration_nanos);
  if (!metadata.comment.empty()) pb.add_comment(strings.index(metadata.comment));

  bool all_resolved = true;
  for (const Location& location : profile.locations) all_resolved &= !location.frames.empty();
  pprof::Mapping* mapping = pb.add_mapping();
  mapping->set_id(1);
  mapping->set_memory_start(metadata.mapping_start);
  mapping->set_memory_limit(metadata.mapping_limit);
  mapping->set_file_offset(metadata.mapping_offset);
  mapping->set_filename(strings.index(metadata.binary_path));
  mapping->set_build_id(strings.index(metadata.build_id));
  mapping->set_has_functions(all_resolved);
  mapping->set_has_filenames(all_resolved);
  mapping->set_has_line_numbers(all_resolved);
  mapping->set_has_inline_frames(all_resolved);

  // Functions are unique by name and file; ids start at 1.
  std::map<std::pair<std::string_view, std::string_view>, uint64_t> functions;
  auto function_id = [&](const Frame& frame) {
    auto [it, inserted] = functions.emplace(std::pair{frame.function, frame.file}, functions.size() + 1);
    if (inserted) {
      pprof::Function* function = pb.add_function();
      function->set_id(it->second);
      function->set_name(strings.index(frame.function));
      function->set_system_name(function->name());
      function->set_filename(strings.index(frame.file));
      function->set_start_line(frame.start_line);
    }
    return it->second;
  };
  for (size_t i = 0; i < profile.locations.size(); ++i) {
    const Location& location = profile.locations[i];
    pprof::Location* pb_location = pb.add_location();
    pb_location->set_id(i + 1);
    // A return address; the call instruction before it is the location.
    uint64_t address = location.address > 0 ? location.address - 1 : 0;
    pb_location->set_address(address);
    if (address >= metadata.mapping_start && address < metadata.mapping_limit) pb_location->set_mapping_id(1);
    for (const Frame& frame : shown_frames(location)) {  // innermost first, as pprof wants
      pprof::Line* line = pb_location->add_line();
      line->set_function_id(function_id(frame));
      line->set_line(frame.line);
    }
  }
  int64_t type_key = strings.index("type");
  for (const Sample& sample : profile.samples) {
    pprof::Sample* pb_sample = pb.add_sample();
    for (uint32_t location : sample.locations) pb_sample->add_location_id(location + 1);
    pb_sample->add_value(sample.totals.count);
    pb_sample->add_value(sample.totals.bytes);
    pprof::Label* label = pb_sample->add_label();
    label->set_key(type_key);
    label->set_str(strings.index(sample.type_name));
  }
  return gzip(pb.SerializeAsString());
}


}  // namespace gotrace
