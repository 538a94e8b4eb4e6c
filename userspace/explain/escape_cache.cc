#include "userspace/explain/escape_cache.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>
#include <system_error>

#include <nlohmann/json.hpp>

namespace gotrace {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kFormatVersion = 1;
constexpr const char* kDiagnosticsFile = "diagnostics.json";
constexpr const char* kBinaryFile = "build";

// 128-bit FNV-1a.
class Fnv128 {
 public:
  void add(std::string_view bytes) {
    for (unsigned char c : bytes) {
      state_ ^= c;
      state_ *= kPrime;
    }
  }
  // Each part with its length, so that ("ab","c") and ("a","bc") differ.
  void add_part(std::string_view part) {
    add(std::to_string(part.size()));
    add(":");
    add(part);
  }
  std::string hex() const {
    return fmt::format("{:016x}{:016x}", static_cast<uint64_t>(state_ >> 64), static_cast<uint64_t>(state_));
  }

 private:
  static constexpr unsigned __int128 kPrime = (static_cast<unsigned __int128>(1) << 88) + 0x13b;
  unsigned __int128 state_ = (static_cast<unsigned __int128>(0x6c62272e07bb0142ULL) << 64) | 0x62b821756295c58dULL;
};

json position_json(const SourcePosition& position, const ModuleRelative& module_file) {
  json out = {{"line", position.line}, {"column", position.column}};
  if (auto relative = module_file(position.file)) {
    out["module_file"] = *relative;
  } else {
    out["file"] = position.file;
  }
  return out;
}

json diagnostic_json(const CompilerDiagnostic& diagnostic, const ModuleRelative& module_file) {
  json inlined = json::array(), flow = json::array();
  for (const SourcePosition& position : diagnostic.inlined_at) inlined.push_back(position_json(position, module_file));
  for (const EscapeFlowStep& step : diagnostic.flow)
    flow.push_back({{"text", step.text}, {"at", position_json(step.position, module_file)}});
  return {{"at", position_json(diagnostic.position, module_file)},
          {"inlined_at", std::move(inlined)},
          {"code", diagnostic.code},
          {"message", diagnostic.message},
          {"flow", std::move(flow)}};
}

// The cache is ours, but a damaged entry must read as none, not crash.
std::optional<SourcePosition> position_from(const json& object, const std::string& source_root) {
  if (!object.is_object()) return std::nullopt;
  auto line = object.find("line"), column = object.find("column");
  if (line == object.end() || column == object.end() || !line->is_number_integer() || !column->is_number_integer())
    return std::nullopt;
  SourcePosition position{"", line->get<int>(), column->get<int>()};
  if (auto it = object.find("module_file"); it != object.end() && it->is_string()) {
    position.file = source_root + "/" + it->get<std::string>();
  } else if (auto file = object.find("file"); file != object.end() && file->is_string()) {
    position.file = file->get<std::string>();
  } else {
    return std::nullopt;
  }
  return position;
}

std::optional<std::string> string_of(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<CompilerDiagnostic> diagnostic_from(const json& object, const std::string& source_root) {
  if (!object.is_object()) return std::nullopt;
  CompilerDiagnostic diagnostic;
  auto at = object.find("at");
  auto code = string_of(object, "code"), message = string_of(object, "message");
  auto inlined = object.find("inlined_at"), flow = object.find("flow");
  if (at == object.end() || !code || !message || inlined == object.end() || !inlined->is_array() ||
      flow == object.end() || !flow->is_array())
    return std::nullopt;
  auto position = position_from(*at, source_root);
  if (!position) return std::nullopt;
  diagnostic.position = std::move(*position);
  diagnostic.code = std::move(*code);
  diagnostic.message = std::move(*message);
  for (const json& entry : *inlined) {
    auto inlined_position = position_from(entry, source_root);
    if (!inlined_position) return std::nullopt;
    diagnostic.inlined_at.push_back(std::move(*inlined_position));
  }
  for (const json& entry : *flow) {
    auto text = entry.is_object() ? string_of(entry, "text") : std::nullopt;
    auto step_at = entry.is_object() ? entry.find("at") : entry.end();
    auto step_position = text && step_at != entry.end() ? position_from(*step_at, source_root) : std::nullopt;
    if (!step_position) return std::nullopt;
    diagnostic.flow.push_back({std::move(*text), std::move(*step_position)});
  }
  return diagnostic;
}

// A digest's hex text, as content_digest writes it: the name of an entry.
bool is_key(std::string_view name) {
  return name.size() == 32 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// ".staging-KEY-XXXXXX", as make_staging_dir names one.
bool is_staging_name(std::string_view name) {
  constexpr std::string_view kPrefix = ".staging-";
  return name.size() == kPrefix.size() + 32 + 7 && name.starts_with(kPrefix) &&
         is_key(name.substr(kPrefix.size(), 32)) && name[kPrefix.size() + 32] == '-';
}

}  // namespace

std::string content_digest(const std::vector<std::string>& parts) {
  Fnv128 hash;
  for (const std::string& part : parts) hash.add_part(part);
  return hash.hex();
}

Result<std::string> file_digest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("'{}': cannot read", path);
  Fnv128 hash;
  char buffer[65536];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) hash.add(std::string_view(buffer, in.gcount()));
  if (in.bad()) return make_error("'{}': cannot read", path);
  return hash.hex();
}

std::optional<EscapeBuild> EscapeCache::load(const std::string& source_root) const {
  std::string dir = entry_dir();
  std::ifstream in(dir + "/" + kDiagnosticsFile);
  std::error_code error;
  if (!in || !fs::is_regular_file(dir + "/" + kBinaryFile, error)) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  json entry = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!entry.is_object()) return std::nullopt;
  auto version = entry.find("version"), diagnostics = entry.find("diagnostics");
  auto build_root = string_of(entry, "build_root");
  auto lost = entry.find("lost_logs");
  if (version == entry.end() || *version != kFormatVersion || !build_root || diagnostics == entry.end() ||
      !diagnostics->is_array() || lost == entry.end() || !lost->is_array())
    return std::nullopt;
  fs::last_write_time(dir, fs::file_time_type::clock::now(), error);  // used now, for prune()
  EscapeBuild build;
  build.binary_path = dir + "/" + kBinaryFile;
  build.build_root = std::move(*build_root);
  for (const json& object : *diagnostics) {
    auto diagnostic = diagnostic_from(object, source_root);
    if (!diagnostic) return std::nullopt;
    build.diagnostics.push_back(std::move(*diagnostic));
  }
  for (const json& pair : *lost) {
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string()) return std::nullopt;
    build.lost_logs.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
  }
  return build;
}

Result<std::string> EscapeCache::make_staging_dir() const {
  std::error_code error;
  fs::create_directories(dir_, error);
  if (error) return make_error("cannot create the cache directory '{}': {}", dir_, error.message());
  std::string pattern = dir_ + "/.staging-" + key_ + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr)
    return make_error("cannot create a directory in '{}': {}", dir_, std::strerror(errno));
  return pattern;
}

Status EscapeCache::publish(const std::string& staging, const EscapeBuild& build,
                            const ModuleRelative& module_file) const {
  json diagnostics = json::array();
  for (const CompilerDiagnostic& diagnostic : build.diagnostics)
    diagnostics.push_back(diagnostic_json(diagnostic, module_file));
  json lost = json::array();
  for (const auto& [file, by] : build.lost_logs) lost.push_back({file, by});
  json entry = {{"version", kFormatVersion},
                {"build_root", build.build_root},
                {"diagnostics", std::move(diagnostics)},
                {"lost_logs", std::move(lost)}};
  std::string path = staging + "/" + kDiagnosticsFile;
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << entry.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
    if (!out.flush()) return make_error("'{}': cannot write", path);
  }
  std::error_code error;
  fs::rename(staging, entry_dir(), error);
  if (error) {
    // Published meanwhile by another run (the rename of a directory onto a
    // non-empty one fails): keep that one.
    fs::remove_all(staging, error);
    if (!fs::is_directory(entry_dir(), error)) return make_error("cannot store '{}' in the cache", entry_dir());
  }
  return Ok{};
}

void EscapeCache::prune() const {
  constexpr auto kStagingAge = std::chrono::hours(24);
  std::vector<std::pair<fs::file_time_type, fs::path>> entries;
  std::error_code error;
  auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(dir_, error), end; !error && it != end; it.increment(error)) {
    // Only what the cache itself made and named: a real directory (never a
    // link, which might lead anywhere) called by a key, or a staging one.
    std::error_code entry_error;
    auto time = it->last_write_time(entry_error);
    if (entry_error || !it->is_directory(entry_error) || it->is_symlink(entry_error)) continue;
    std::string name = it->path().filename().string();
    bool staging = is_staging_name(name);
    if (!staging && !is_key(name)) continue;
    if (staging) {
      if (now - time > kStagingAge) fs::remove_all(it->path(), entry_error);
      continue;
    }
    entries.emplace_back(time, it->path());
  }
  if (entries.size() <= kMaxEntries) return;
  std::sort(entries.begin(), entries.end(), std::greater<>());
  for (size_t i = kMaxEntries; i < entries.size(); ++i) fs::remove_all(entries[i].second, error);
}

}  // namespace gotrace
