#include "userspace/export/pprof_writer.h"

#include <zlib.h>

#include <map>
#include <unordered_map>

#include "export/profile.pb.h"
#include "userspace/export/string_sink.h"

namespace gotrace {
namespace {

// Profile's fields (profile.proto), written one by one.
enum ProfileField : uint32_t {
  kSampleType = 1, kSample = 2, kMapping = 3, kLocation = 4, kFunction = 5, kStringTable = 6,
  kTimeNanos = 9, kDurationNanos = 10, kPeriodType = 11, kPeriod = 12, kComment = 13, kDefaultSampleType = 14,
};

// A gzip stream written to a sink as it is compressed. zlib fails only when
// out of memory or handed bad parameters; either is reported.
class GzipSink {
 public:
  explicit GzipSink(ByteSink& out) : out_(out), buffer_(1 << 16, '\0') {}
  ~GzipSink() {
    if (open_) deflateEnd(&stream_);
  }
  Status open() {
    if (int err = deflateInit2(&stream_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16 /* gzip header */, 8,
                               Z_DEFAULT_STRATEGY);
        err != Z_OK)
      return make_error("cannot compress the profile: zlib error {}", err);
    open_ = true;
    return Ok{};
  }
  // Small writes are gathered, so that zlib is called for 64 KiB at a time.
  Status write(std::string_view bytes) {
    pending_.append(bytes);
    if (pending_.size() < kChunk) return Ok{};
    Status status = deflate_all(pending_, Z_NO_FLUSH);
    pending_.clear();
    return status;
  }
  Status finish() { return deflate_all(pending_, Z_FINISH); }

 private:
  Status deflate_all(std::string_view bytes, int flush) {
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    stream_.avail_in = bytes.size();
    for (;;) {
      stream_.next_out = reinterpret_cast<Bytef*>(buffer_.data());
      stream_.avail_out = buffer_.size();
      int err = deflate(&stream_, flush);
      if (err != Z_OK && err != Z_STREAM_END && err != Z_BUF_ERROR)
        return make_error("cannot compress the profile: zlib error {}", err);
      size_t produced = buffer_.size() - stream_.avail_out;
      if (produced > 0)
        if (Status s = out_.write(std::string_view(buffer_.data(), produced)); !s) return s;
      if (flush == Z_FINISH ? err == Z_STREAM_END : stream_.avail_in == 0 && stream_.avail_out != 0) return Ok{};
    }
  }

  static constexpr size_t kChunk = 1 << 16;
  ByteSink& out_;
  std::string pending_;
  std::string buffer_;
  z_stream stream_{};
  bool open_ = false;
};

// The top-level fields of the Profile message, in the wire format.
class ProfileStream {
 public:
  explicit ProfileStream(GzipSink& gzip) : gzip_(gzip) {}

  Status message(ProfileField field, const google::protobuf::MessageLite& message) {
    message.SerializeToString(&scratch_);
    return bytes(field, scratch_);
  }
  Status bytes(ProfileField field, std::string_view data) {
    header_.clear();
    varint(uint64_t(field) << 3 | 2);  // length-delimited
    varint(data.size());
    if (Status s = gzip_.write(header_); !s) return s;
    return gzip_.write(data);
  }
  Status integer(ProfileField field, int64_t value) {
    header_.clear();
    varint(uint64_t(field) << 3);  // varint
    varint(uint64_t(value));
    return gzip_.write(header_);
  }

 private:
  void varint(uint64_t value) {
    for (; value >= 0x80; value >>= 7) header_.push_back(char(value | 0x80));
    header_.push_back(char(value));
  }

  GzipSink& gzip_;
  std::string header_, scratch_;
};

class StringTable {
 public:
  StringTable() { index(""); }
  int64_t index(std::string_view text) {
    auto [it, inserted] = ids_.emplace(std::string(text), strings_.size());
    if (inserted) strings_.push_back(&it->first);
    return it->second;
  }
  Status write(ProfileStream& stream) const {
    for (const std::string* text : strings_)
      if (Status s = stream.bytes(kStringTable, *text); !s) return s;
    return Ok{};
  }

 private:
  std::unordered_map<std::string, int64_t> ids_;
  std::vector<const std::string*> strings_;  // by index; into ids_, whose nodes stay put
};

// Functions are unique by name and file; ids start at 1.
class FunctionTable {
 public:
  uint64_t id(std::string_view name, std::string_view file, int64_t start_line, StringTable& strings) {
    auto [it, inserted] = ids_.emplace(std::pair{name, file}, functions_.size() + 1);
    if (inserted) {
      pprof::Function& function = functions_.emplace_back();
      function.set_id(it->second);
      function.set_name(strings.index(name));
      function.set_system_name(function.name());
      function.set_filename(strings.index(file));
      function.set_start_line(start_line);
    }
    return it->second;
  }
  Status write(ProfileStream& stream) const {
    for (const pprof::Function& function : functions_)
      if (Status s = stream.message(kFunction, function); !s) return s;
    return Ok{};
  }

 private:
  std::map<std::pair<std::string_view, std::string_view>, uint64_t> ids_;
  std::vector<pprof::Function> functions_;
};

// The labels every sample of one process carries, as string indexes.
struct ProcessLabels {
  int64_t name = 0;
  int64_t pid = 0;
  int64_t container = 0;  // 0, the empty string, for none
};

// One sample each, leaf first, labelled with its type, allocation kind and process; a
// merged stack ends at the merged frame's location, `merged_location`.
// Without sample labels, the type is the leaf: its location is
// `first_type_location` plus the type's index.
Status write_samples(const Profile& profile, const PprofMetadata& metadata, uint64_t merged_location,
                     uint64_t first_type_location, StringTable& strings, ProfileStream& stream) {
  int64_t type_key = strings.index("type"), process_key = strings.index("process"), pid_key = strings.index("pid"),
          container_key = strings.index("container"), kind_key = strings.index(kAllocationKindLabel);
  std::vector<int64_t> type_strings;  // by type
  for (const std::string& name : profile.type_names) type_strings.push_back(strings.index(name));
  std::vector<int64_t> kind_strings;  // by kind; 0, the empty string, for a stack that does not say
  for (const std::string& name : profile.kind_names) kind_strings.push_back(strings.index(name));
  std::vector<ProcessLabels> processes;  // by process
  for (const ProcessLabel& process : profile.processes)
    processes.push_back({strings.index(process.name), process.pid, strings.index(process.container)});
  pprof::Sample pb_sample;
  auto add_label = [&](int64_t key) {
    pprof::Label* label = pb_sample.add_label();
    label->set_key(key);
    return label;
  };
  for (const Sample& sample : profile.samples) {
    pb_sample.Clear();
    if (!metadata.sample_labels) pb_sample.add_location_id(first_type_location + sample.type);
    for (uint32_t location : profile.locations_of(sample)) pb_sample.add_location_id(location + 1);
    if (sample.merged) pb_sample.add_location_id(merged_location);
    pb_sample.add_value(int64_t(sample.totals.count));
    pb_sample.add_value(int64_t(sample.totals.bytes));
    if (profile.has_inuse) {
      pb_sample.add_value(int64_t(sample.inuse.count));
      pb_sample.add_value(int64_t(sample.inuse.bytes));
      if (metadata.peak_inuse) {
        pb_sample.add_value(int64_t(sample.peak_inuse.count));
        pb_sample.add_value(int64_t(sample.peak_inuse.bytes));
      }
    }
    if (!metadata.sample_labels) {
      if (Status s = stream.message(kSample, pb_sample); !s) return s;
      continue;
    }
    add_label(type_key)->set_str(type_strings[sample.type]);
    if (sample.kind < kind_strings.size() && kind_strings[sample.kind] != 0)
      add_label(kind_key)->set_str(kind_strings[sample.kind]);
    if (sample.process < processes.size()) {
      const ProcessLabels& process = processes[sample.process];
      add_label(process_key)->set_str(process.name);
      add_label(pid_key)->set_num(process.pid);
      if (process.container != 0) add_label(container_key)->set_str(process.container);
    }
    if (Status s = stream.message(kSample, pb_sample); !s) return s;
  }
  return Ok{};
}

// Each mapping, ids from 1. A mapping claims its functions, file names,
// lines and inlined frames only when every location in it resolved: else
// pprof may try to symbolize the rest itself.
Status write_mappings(const Profile& profile, StringTable& strings, ProfileStream& stream) {
  std::vector<bool> all_resolved(profile.mappings.size(), true);
  for (const Location& location : profile.locations)
    if (location.mapping < all_resolved.size() && location.frames.empty()) all_resolved[location.mapping] = false;
  pprof::Mapping pb_mapping;
  for (size_t i = 0; i < profile.mappings.size(); ++i) {
    const Mapping& mapping = profile.mappings[i];
    pb_mapping.Clear();
    pb_mapping.set_id(i + 1);
    pb_mapping.set_memory_start(mapping.start);
    pb_mapping.set_memory_limit(mapping.limit);
    pb_mapping.set_file_offset(mapping.file_offset);
    pb_mapping.set_filename(strings.index(mapping.path));
    pb_mapping.set_build_id(strings.index(mapping.build_id));
    pb_mapping.set_has_functions(all_resolved[i]);
    pb_mapping.set_has_filenames(all_resolved[i]);
    pb_mapping.set_has_line_numbers(all_resolved[i]);
    pb_mapping.set_has_inline_frames(all_resolved[i]);
    if (Status s = stream.message(kMapping, pb_mapping); !s) return s;
  }
  return Ok{};
}

// Every location, ids from 1, and the merged frame's after them when a
// sample needs it, then, without sample labels, one a type, whose frame is
// the type's name in brackets; then the functions they name.
Status write_locations(const Profile& profile, const PprofMetadata& metadata, bool any_merged, StringTable& strings,
                       ProfileStream& stream) {
  FunctionTable functions;
  pprof::Location pb_location;
  for (size_t i = 0; i < profile.locations.size(); ++i) {
    const Location& location = profile.locations[i];
    pb_location.Clear();
    pb_location.set_id(i + 1);
    // A return address; the call instruction before it is the location.
    uint64_t address = location.address > 0 ? location.address - 1 : 0;
    pb_location.set_address(address);
    // An address outside its binary's text (one that did not resolve) is in no mapping.
    if (location.mapping < profile.mappings.size()) {
      const Mapping& mapping = profile.mappings[location.mapping];
      if (address >= mapping.start && address < mapping.limit) pb_location.set_mapping_id(location.mapping + 1);
    }
    for (const Frame& frame : shown_frames(location)) {  // innermost first, as pprof wants
      pprof::Line* line = pb_location.add_line();
      line->set_function_id(functions.id(frame.function, frame.file, frame.start_line, strings));
      line->set_line(frame.line);
    }
    if (Status s = stream.message(kLocation, pb_location); !s) return s;
  }
  if (any_merged) {
    pb_location.Clear();
    pb_location.set_id(profile.locations.size() + 1);
    pb_location.add_line()->set_function_id(functions.id(kMergedFrame, "", 0, strings));
    if (Status s = stream.message(kLocation, pb_location); !s) return s;
  }
  if (!metadata.sample_labels) {
    std::vector<std::string> frames;  // the function table refers to its names
    frames.reserve(profile.type_names.size());
    for (size_t type = 0; type < profile.type_names.size(); ++type) {
      pb_location.Clear();
      pb_location.set_id(profile.locations.size() + 2 + type);
      const std::string& frame = frames.emplace_back("[" + profile.type_names[type] + "]");
      pb_location.add_line()->set_function_id(functions.id(frame, "", 0, strings));
      if (Status s = stream.message(kLocation, pb_location); !s) return s;
    }
    return functions.write(stream);
  }
  return functions.write(stream);
}

// The scalar fields and the sample types.
Status write_header(const Profile& profile, const PprofMetadata& metadata, StringTable& strings,
                    ProfileStream& stream) {
  auto value_type = [&](ProfileField field, const char* name, const char* unit) {
    pprof::ValueType type;
    type.set_type(strings.index(name));
    type.set_unit(strings.index(unit));
    return stream.message(field, type);
  };
  for (Status s : {value_type(kSampleType, "alloc_objects", "count"), value_type(kSampleType, "alloc_space", "bytes"),
                   value_type(kPeriodType, "space", "bytes"), stream.integer(kPeriod, metadata.period),
                   stream.integer(kTimeNanos, metadata.time_nanos),
                   stream.integer(kDurationNanos, metadata.duration_nanos)})
    if (!s) return s;
  if (profile.has_inuse) {
    for (Status s : {value_type(kSampleType, "inuse_objects", "count"), value_type(kSampleType, "inuse_space", "bytes")})
      if (!s) return s;
    if (metadata.peak_inuse)
      for (Status s : {value_type(kSampleType, "peak_inuse_objects", "count"),
                       value_type(kSampleType, "peak_inuse_space", "bytes")})
        if (!s) return s;
  }
  if (Status s = stream.integer(kDefaultSampleType, strings.index("alloc_space")); !s) return s;
  for (const std::string& comment : metadata.comments)
    if (Status s = stream.integer(kComment, strings.index(comment)); !s) return s;
  return Ok{};
}

}  // namespace

Status write_pprof(const Profile& profile, const PprofMetadata& metadata, ByteSink& sink) {
  GzipSink gzip(sink);
  if (Status s = gzip.open(); !s) return s;
  ProfileStream stream(gzip);
  StringTable strings;
  bool any_merged = false;
  for (const Sample& sample : profile.samples) any_merged |= sample.merged;
  if (Status s = write_header(profile, metadata, strings, stream); !s) return s;
  uint64_t merged_location = profile.locations.size() + 1;
  if (Status s = write_samples(profile, metadata, merged_location, merged_location + 1, strings, stream); !s) return s;
  if (Status s = write_mappings(profile, strings, stream); !s) return s;
  if (Status s = write_locations(profile, metadata, any_merged, strings, stream); !s) return s;
  if (Status s = strings.write(stream); !s) return s;
  return gzip.finish();
}

Result<std::string> encode_pprof(const Profile& profile, const PprofMetadata& metadata) {
  StringSink sink;
  if (Status s = write_pprof(profile, metadata, sink); !s) return s.error();
  return std::move(sink).take();
}

}  // namespace gotrace
