#include "tests/integration/pprof_raw.h"

#include <gtest/gtest.h>

#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "tests/support/child_process.h"

namespace gotrace::testing {
namespace {

struct RawProfile {
  struct Sample {
    ObjectsAndBytes totals;
    ObjectsAndBytes inuse;             // the third and fourth values, when there are four or more
    ObjectsAndBytes peak_inuse;        // the fifth and sixth, when there are six
    std::vector<uint64_t> locations;  // leaf first
    SampleLabels labels;
    std::string type() const {
      auto type = labels.find("type");
      return type == labels.end() ? "" : type->second;
    }
  };
  std::vector<Sample> samples;
  std::map<uint64_t, Stack> frames_of_location;  // innermost first
  std::string sample_types;                      // the line after "Samples:"
  std::string text;
};

// One frame of a location, "<name> <file>:<line>:<column> s=<start line>"
// with "(<system name>)" after it when that differs from the name: the
// system name, else the name, and the line. The name may hold spaces
// ("go.shape.interface {}"); the file is taken to hold none.
std::optional<StackFrame> parse_frame(const std::string& body) {
  for (size_t at = body.find(" s="); at != std::string::npos; at = body.find(" s=", at + 1)) {
    size_t digits_end = body.find_first_not_of("0123456789", at + 3);
    if (digits_end == at + 3 || (digits_end != std::string::npos && body[digits_end] != '(')) continue;
    size_t column = body.rfind(':', at);
    size_t line_colon = column == std::string::npos || column == 0 ? std::string::npos : body.rfind(':', column - 1);
    size_t file_start = line_colon == std::string::npos ? std::string::npos : body.rfind(' ', line_colon);
    if (file_start == std::string::npos) continue;
    std::string name = body.substr(0, file_start);
    if (digits_end != std::string::npos && body.back() == ')')
      name = body.substr(digits_end + 1, body.size() - digits_end - 2);  // the system name
    return StackFrame{name, std::stoll(body.substr(line_colon + 1, column - line_colon - 1))};
  }
  return std::nullopt;
}

// Where the label that starts at `at` ("key:[value]") ends: at the "]"
// followed by the end of the line or by " key:[", so that a value may hold
// spaces and brackets ("type:[struct { a [4]int }]").
size_t label_end(const std::string& line, size_t at) {
  for (size_t close = line.find(']', at); close != std::string::npos; close = line.find(']', close + 1)) {
    if (close + 1 == line.size()) return close;
    if (line[close + 1] != ' ') continue;
    size_t key_end = line.find_first_not_of("abcdefghijklmnopqrstuvwxyz_0123456789", close + 2);
    if (key_end != std::string::npos && key_end > close + 2 && line.compare(key_end, 2, ":[") == 0) return close;
  }
  return std::string::npos;
}

// "type:[main.Record] process:[allocs]" or "bytes:[48] pid:[1234]": pprof
// prints a sample's string labels on one line and its numeric ones on the
// next, each sorted by key. Whether `line` was one.
bool parse_label_line(const std::string& line, SampleLabels* labels) {
  size_t at = line.find_first_not_of(' ');
  size_t open = at == std::string::npos ? at : line.find(":[", at);
  if (open == std::string::npos || line.find_first_of(" 0123456789", at) < open) return false;
  while (at != std::string::npos && at < line.size()) {
    open = line.find(":[", at);
    size_t end = open == std::string::npos ? open : label_end(line, open + 2);
    if (end == std::string::npos) return false;
    std::string value = line.substr(open + 2, end - open - 2);
    // Several values are printed space-separated; a numeric one may have its unit after a space.
    if (line.compare(at, open - at, "type") != 0) value = value.substr(0, value.find(' '));
    (*labels)[line.substr(at, open - at)] = value;
    at = line.find_first_not_of(' ', end + 1);
  }
  return true;
}

// "  v1 v2 ...: id id ...", or a label line below it.
void parse_sample_line(const std::string& line, RawProfile* profile) {
  if (!profile->samples.empty() && parse_label_line(line, &profile->samples.back().labels)) return;
  size_t colon = line.find(':');
  if (colon == std::string::npos) return;
  std::istringstream values(line.substr(0, colon)), ids(line.substr(colon + 1));
  RawProfile::Sample sample;
  if (!(values >> sample.totals.objects >> sample.totals.bytes)) return;
  if (!(values >> sample.inuse.objects >> sample.inuse.bytes)) sample.inuse = {};
  if (!(values >> sample.peak_inuse.objects >> sample.peak_inuse.bytes)) sample.peak_inuse = {};
  for (uint64_t id; ids >> id;) sample.locations.push_back(id);
  profile->samples.push_back(std::move(sample));
}

// "    12: 0x4a1b2c M=1 main.f /src/main.go:12:0 s=10" starts a location
// (and its innermost frame); an indented line without an id is a caller
// inlined into the location above.
void parse_location_line(const std::string& line, uint64_t* location, RawProfile* profile) {
  size_t first = line.find_first_not_of(' ');
  if (first == std::string::npos) return;
  std::string body;
  size_t colon = line.find(": 0x", first);
  if (colon != std::string::npos && line.find_first_not_of("0123456789", first) == colon) {
    *location = std::stoull(line.substr(first, colon - first));
    profile->frames_of_location[*location];
    // Skip the address, the mapping and a folded mark.
    std::istringstream fields(line.substr(colon + 2));
    std::string field;
    size_t at = colon + 2;
    while (fields >> field && (field.starts_with("0x") || field.starts_with("M=") || field == "[F]"))
      at = line.find(field, at) + field.size();
    size_t body_start = line.find_first_not_of(' ', at);
    if (body_start == std::string::npos) return;  // a location without lines
    body = line.substr(body_start);
  } else {
    body = line.substr(first);
  }
  auto frame = parse_frame(body);
  EXPECT_TRUE(frame) << "unexpected pprof -raw location line: " << line;
  if (frame) profile->frames_of_location[*location].push_back(*frame);
}

RawProfile read_raw_profile(const std::string& path, const std::vector<std::string>& options) {
  std::vector<std::string> argv = {"go", "tool", "pprof", "-raw"};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back(path);
  auto result = run_command(argv);
  EXPECT_EQ(result.exit_code, 0) << path << ": " << result.err;
  RawProfile profile;
  profile.text = result.out;
  std::istringstream in(result.out);
  enum { kHeader, kSamples, kLocations, kOther } section = kHeader;
  uint64_t location = 0;
  for (std::string line; std::getline(in, line);) {
    if (line == "Samples:") section = kSamples;
    else if (section == kSamples && profile.sample_types.empty()) profile.sample_types = line;
    else if (line == "Locations") section = kLocations;
    else if (line == "Mappings") section = kOther;
    else if (section == kSamples) parse_sample_line(line, &profile);
    else if (section == kLocations) parse_location_line(line, &location, &profile);
  }
  return profile;
}

}  // namespace

namespace {

bool has_labels(const RawProfile::Sample& sample, const SampleLabels& only) {
  for (const auto& [key, value] : only) {
    auto label = sample.labels.find(key);
    if (label == sample.labels.end() || label->second != value) return false;
  }
  return true;
}

}  // namespace

PprofSites read_pprof_sites(const std::string& path, const SampleLabels& only) {
  RawProfile profile = read_raw_profile(path, {});
  PprofSites sites;
  sites.raw = profile.text;
  sites.sample_types = profile.sample_types;
  for (const auto& sample : profile.samples) {
    if (!has_labels(sample, only)) continue;
    SiteKey leaf;
    if (!sample.locations.empty()) {
      const Stack& frames = profile.frames_of_location[sample.locations.front()];
      if (!frames.empty()) leaf = {collapse_type_arguments(frames.front().first), frames.front().second};
    }
    for (ObjectsAndBytes* sum : {&sites.by_site[leaf], &sites.by_function[leaf.first]}) {
      sum->objects += sample.totals.objects;
      sum->bytes += sample.totals.bytes;
    }
    sites.types_by_function[leaf.first][sample.type()] += sample.totals.objects;
    sites.inuse_by_site[leaf].objects += sample.inuse.objects;
    sites.inuse_by_site[leaf].bytes += sample.inuse.bytes;
    sites.peak_inuse_by_site[leaf].objects += sample.peak_inuse.objects;
    sites.peak_inuse_by_site[leaf].bytes += sample.peak_inuse.bytes;
  }
  return sites;
}

namespace {

Stack stack_of(const RawProfile& profile, const RawProfile::Sample& sample, const std::string& path) {
  Stack stack;
  for (uint64_t id : sample.locations) {
    auto frames = profile.frames_of_location.find(id);
    EXPECT_NE(frames, profile.frames_of_location.end()) << "no location " << id << " in " << path;
    if (frames != profile.frames_of_location.end())
      stack.insert(stack.end(), frames->second.begin(), frames->second.end());
  }
  return stack;
}

}  // namespace

std::map<Stack, ObjectsAndBytes> read_pprof_stacks(const std::string& path, const SampleLabels& only) {
  RawProfile profile = read_raw_profile(path, {"-symbolize=none"});
  std::map<Stack, ObjectsAndBytes> stacks;
  for (const auto& sample : profile.samples) {
    if (sample.totals.objects == 0 || !has_labels(sample, only)) continue;
    auto& sum = stacks[stack_of(profile, sample, path)];
    sum.objects += sample.totals.objects;
    sum.bytes += sample.totals.bytes;
  }
  return stacks;
}

std::map<TypedStack, ObjectsAndBytes> read_pprof_typed_stacks(const std::string& path) {
  RawProfile profile = read_raw_profile(path, {"-symbolize=none"});
  std::map<TypedStack, ObjectsAndBytes> stacks;
  for (const auto& sample : profile.samples) {
    if (sample.totals.objects == 0) continue;
    auto& sum = stacks[{stack_of(profile, sample, path), sample.type()}];
    sum.objects += sample.totals.objects;
    sum.bytes += sample.totals.bytes;
  }
  return stacks;
}

std::vector<LabelledSample> read_pprof_labels(const std::string& path) {
  RawProfile profile = read_raw_profile(path, {"-symbolize=none"});
  std::vector<LabelledSample> samples;
  for (const auto& sample : profile.samples)
    samples.push_back({sample.labels, sample.totals, stack_of(profile, sample, path)});
  return samples;
}

std::string describe_stack(const Stack& stack) {
  std::string out;
  for (size_t i = 0; i < stack.size();) {
    size_t run = 1;
    while (i + run < stack.size() && stack[i + run] == stack[i]) ++run;
    if (!out.empty()) out += " <- ";
    out += fmt::format("{}:{}", stack[i].first, stack[i].second);
    if (run > 1) out += fmt::format(" (x{})", run);
    i += run;
  }
  return out.empty() ? "(empty stack)" : out;
}

}  // namespace gotrace::testing
