#include "userspace/explain/profile_reader.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <unordered_map>

#include "base/text_format.h"
#include "export/profile.pb.h"

namespace gotrace {
namespace {

bool gzipped(std::string_view bytes) { return bytes.size() >= 2 && uint8_t(bytes[0]) == 0x1f && uint8_t(bytes[1]) == 0x8b; }

Result<std::string> gunzip(std::string_view bytes, std::string_view name) {
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 32 /* gzip or zlib header */) != Z_OK)
    return make_error("{}: cannot decompress: zlib could not start", quote(name));
  std::string out;
  std::string buffer(1 << 16, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = uInt(bytes.size());
  int err = Z_OK;
  while (err != Z_STREAM_END) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer.data());
    stream.avail_out = uInt(buffer.size());
    err = inflate(&stream, Z_NO_FLUSH);
    if (err != Z_OK && err != Z_STREAM_END) {
      inflateEnd(&stream);
      return make_error("{}: not a gzipped profile: {}", quote(name), stream.msg ? stream.msg : "corrupt data");
    }
    out.append(buffer.data(), buffer.size() - stream.avail_out);
    if (out.size() > kMaxProfileBytes) {
      inflateEnd(&stream);
      return make_error("{}: inflates to more than {} bytes: not a profile gotrace reads", quote(name),
                        kMaxProfileBytes);
    }
    if (err == Z_OK && stream.avail_in == 0 && stream.avail_out != 0) {
      inflateEnd(&stream);
      return make_error("{}: the gzipped profile is cut short", quote(name));
    }
  }
  inflateEnd(&stream);
  return out;
}

// Checked references from one table of the profile to another.
class References {
 public:
  References(const pprof::Profile& profile, std::string_view name) : profile_(profile), name_(name) {}

  Result<std::string> string(int64_t index, std::string_view what) const {
    if (index < 0 || index >= profile_.string_table_size())
      return make_error("{}: corrupt profile: {} names string {} of {}", quote(name_), what, index,
                        profile_.string_table_size());
    return profile_.string_table(int(index));
  }
  Error corrupt(std::string_view what) const { return make_error("{}: corrupt profile: {}", quote(name_), what); }

 private:
  const pprof::Profile& profile_;
  std::string_view name_;
};

// Ids are any numbers the writer chose (gotrace's from 1, in order): each
// table is indexed by id, and a duplicate or 0 is corrupt.
template <typename Message>
Result<std::unordered_map<uint64_t, uint32_t>> ids_of(const google::protobuf::RepeatedPtrField<Message>& table,
                                                       const References& refs, std::string_view what) {
  std::unordered_map<uint64_t, uint32_t> ids;
  for (int i = 0; i < table.size(); ++i)
    if (table.Get(i).id() == 0 || !ids.emplace(table.Get(i).id(), uint32_t(i)).second)
      return refs.corrupt(fmt::format("{} id {} is 0 or taken twice", what, table.Get(i).id()));
  return ids;
}

// The samples, each location id turned into an index into the locations.
Status read_samples(const pprof::Profile& pb, const References& refs,
                    const std::unordered_map<uint64_t, uint32_t>& location_ids, ReadProfile& profile) {
  for (const pprof::Sample& sample : pb.sample()) {
    ProfileSample read;
    if (sample.value_size() != pb.sample_type_size())
      return refs.corrupt(fmt::format("a sample has {} values for {} sample types", sample.value_size(),
                                      pb.sample_type_size()));
    read.values.assign(sample.value().begin(), sample.value().end());
    for (uint64_t id : sample.location_id()) {
      auto location = location_ids.find(id);
      if (location == location_ids.end())
        return refs.corrupt(fmt::format("a sample names location {}, which it has not", id));
      read.locations.push_back(location->second);
    }
    for (const pprof::Label& label : sample.label()) {
      auto key = refs.string(label.key(), "a label's key");
      if (!key) return key.error();
      auto text = refs.string(label.str(), "a label's value");
      if (!text) return text.error();
      read.labels.emplace_back(*key, label.str() != 0 ? *text : std::to_string(label.num()));
    }
    profile.samples.push_back(std::move(read));
  }
  return Ok{};
}

Result<ReadProfile> convert(const pprof::Profile& pb, std::string_view name) {
  References refs(pb, name);
  if (pb.string_table_size() == 0 || !pb.string_table(0).empty()) return refs.corrupt("its string table does not start with \"\"");
  ReadProfile profile;
  for (const pprof::ValueType& type : pb.sample_type()) {
    auto type_name = refs.string(type.type(), "a sample type");
    if (!type_name) return type_name.error();
    auto unit = refs.string(type.unit(), "a sample unit");
    if (!unit) return unit.error();
    profile.sample_types.push_back(*type_name);
    profile.sample_units.push_back(*unit);
  }
  if (pb.default_sample_type() != 0) {
    auto type = refs.string(pb.default_sample_type(), "the default sample type");
    if (!type) return type.error();
    profile.default_sample_type = *type;
  }
  for (int64_t comment : pb.comment()) {
    auto text = refs.string(comment, "a comment");
    if (!text) return text.error();
    profile.comments.push_back(*text);
  }
  profile.duration_nanos = pb.duration_nanos();

  auto mapping_ids = ids_of(pb.mapping(), refs, "mapping");
  if (!mapping_ids) return mapping_ids.error();
  for (const pprof::Mapping& mapping : pb.mapping()) {
    auto file = refs.string(mapping.filename(), "a mapping's file");
    if (!file) return file.error();
    auto build_id = refs.string(mapping.build_id(), "a mapping's build id");
    if (!build_id) return build_id.error();
    profile.mappings.push_back({mapping.memory_start(), mapping.memory_limit(), mapping.file_offset(), *file, *build_id});
  }
  auto function_ids = ids_of(pb.function(), refs, "function");
  if (!function_ids) return function_ids.error();
  auto location_ids = ids_of(pb.location(), refs, "location");
  if (!location_ids) return location_ids.error();
  for (const pprof::Location& location : pb.location()) {
    ProfileLocation read{location.address(), std::nullopt, {}};
    if (location.mapping_id() != 0) {
      auto mapping = mapping_ids->find(location.mapping_id());
      if (mapping == mapping_ids->end())
        return refs.corrupt(fmt::format("location {} names mapping {}, which it has not", location.id(),
                                        location.mapping_id()));
      read.mapping = mapping->second;
    }
    for (const pprof::Line& line : location.line()) {
      auto function = function_ids->find(line.function_id());
      if (function == function_ids->end())
        return refs.corrupt(fmt::format("location {} names function {}, which it has not", location.id(),
                                        line.function_id()));
      const pprof::Function& f = pb.function(int(function->second));
      auto function_name = refs.string(f.name(), "a function's name");
      if (!function_name) return function_name.error();
      auto file = refs.string(f.filename(), "a function's file");
      if (!file) return file.error();
      read.frames.push_back({*function_name, *file, line.line()});
    }
    profile.locations.push_back(std::move(read));
  }
  if (Status read = read_samples(pb, refs, *location_ids, profile); !read) return read.error();
  return profile;
}

}  // namespace

std::string_view ProfileSample::label(std::string_view key) const {
  for (const auto& [k, v] : labels)
    if (k == key) return v;
  return "";
}

std::optional<size_t> ReadProfile::sample_type(std::string_view name) const {
  for (size_t i = 0; i < sample_types.size(); ++i)
    if (sample_types[i] == name) return i;
  return std::nullopt;
}

Result<ReadProfile> parse_profile(std::string_view bytes, std::string_view name) {
  std::string inflated;
  if (gzipped(bytes)) {
    auto out = gunzip(bytes, name);
    if (!out) return out.error();
    inflated = std::move(*out);
    bytes = inflated;
  }
  if (bytes.size() > kMaxProfileBytes)
    return make_error("{}: more than {} bytes: not a profile gotrace reads", quote(name), kMaxProfileBytes);
  pprof::Profile pb;
  if (!pb.ParseFromArray(bytes.data(), int(bytes.size())))
    return make_error("{}: not a pprof profile (profile.proto does not parse)", quote(name));
  return convert(pb, name);
}

Result<ReadProfile> read_profile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("{}: {}", quote(path), std::strerror(errno));
  std::string bytes;
  in.seekg(0, std::ios::end);
  auto size = in.tellg();
  if (size < 0) return make_error("{}: cannot read: not a regular file", quote(path));
  if (uint64_t(size) > kMaxProfileBytes)
    return make_error("{}: more than {} bytes: not a profile gotrace reads", quote(path), kMaxProfileBytes);
  bytes.resize(size_t(size));
  in.seekg(0);
  if (!in.read(bytes.data(), size)) return make_error("{}: cannot read: {}", quote(path), std::strerror(errno));
  if (bytes.empty()) return make_error("{}: empty: not a profile", quote(path));
  return parse_profile(bytes, path);
}

}  // namespace gotrace
