#include "userspace/explain/compiler_log.h"

#include <limits>

#include <nlohmann/json.hpp>

namespace gotrace {
namespace {

using nlohmann::json;

constexpr std::string_view kInlineLocation = "inlineLoc";
constexpr std::string_view kFlowTag = "escflow:";

std::optional<std::string> string_field(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<int> position_field(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_number_unsigned()) return std::nullopt;
  uint64_t value = it->get<uint64_t>();
  if (value > static_cast<uint64_t>(std::numeric_limits<int>::max())) return std::nullopt;
  return static_cast<int>(value);
}

// The start of an LSP range: the compiler makes every range a point.
std::optional<SourcePosition> range_start(const json& range, std::string file) {
  if (!range.is_object()) return std::nullopt;
  auto start = range.find("start");
  if (start == range.end() || !start->is_object()) return std::nullopt;
  auto line = position_field(*start, "line");
  auto column = position_field(*start, "character");
  if (!line || !column) return std::nullopt;
  return SourcePosition{std::move(file), *line, *column};
}

std::optional<SourcePosition> location(const json& related) {
  auto it = related.find("location");
  if (it == related.end() || !it->is_object()) return std::nullopt;
  auto uri = string_field(*it, "uri");
  if (!uri) return std::nullopt;
  auto path = file_uri_path(*uri);
  auto range = it->find("range");
  if (!path || range == it->end()) return std::nullopt;
  return range_start(*range, std::move(*path));
}

// Splits relatedInformation into the diagnostic's inline positions and its
// explanation; false when an entry is malformed.
bool read_related(const json& related, CompilerDiagnostic* diagnostic) {
  if (!related.is_array()) return false;
  for (const json& entry : related) {
    if (!entry.is_object()) return false;
    auto message = string_field(entry, "message");
    auto position = location(entry);
    if (!message || !position) return false;
    if (*message == kInlineLocation) {
      // Before the first step: the diagnostic's own; after: that step's,
      // which the explanation's text does not need.
      if (diagnostic->flow.empty()) diagnostic->inlined_at.push_back(std::move(*position));
      continue;
    }
    std::string_view text = *message;
    if (text.substr(0, kFlowTag.size()) != kFlowTag) return false;
    text.remove_prefix(kFlowTag.size());
    size_t first = text.find_first_not_of(' ');
    text.remove_prefix(first == std::string_view::npos ? text.size() : first);
    diagnostic->flow.push_back({std::string(text), std::move(*position)});
  }
  return true;
}

Result<CompilerDiagnostic> read_diagnostic(const json& object, const std::string& file) {
  if (!object.is_object()) return make_error("not an object");
  CompilerDiagnostic diagnostic;
  auto range = object.find("range");
  auto position = range == object.end() ? std::nullopt : range_start(*range, file);
  if (!position) return make_error("no range");
  diagnostic.position = std::move(*position);
  auto code = string_field(object, "code");
  if (!code) return make_error("no code");
  diagnostic.code = std::move(*code);
  // The compiler leaves the message out when it is empty.
  auto message = object.find("message");
  if (message != object.end()) {
    if (!message->is_string()) return make_error("message is not a string");
    diagnostic.message = message->get<std::string>();
  }
  auto related = object.find("relatedInformation");
  if (related != object.end() && !read_related(*related, &diagnostic))
    return make_error("malformed relatedInformation");
  return diagnostic;
}

Status read_header(const json& header, CompilerLogFile* log) {
  if (!header.is_object()) return make_error("the header is not an object");
  auto version = header.find("version");
  if (version == header.end() || !version->is_number_integer() || version->get<int64_t>() != 0)
    return make_error("not a version 0 log");
  auto package = string_field(header, "package");
  auto gc_version = string_field(header, "gc_version");
  auto file = string_field(header, "file");
  if (!package || !gc_version || !file) return make_error("the header lacks package, gc_version or file");
  log->package = std::move(*package);
  log->gc_version = std::move(*gc_version);
  log->file = std::move(*file);
  return Ok{};
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> file_uri_path(std::string_view uri) {
  // Go's url.URL writes "file://" before a path, and just "file:" for the
  // empty path of a position the compiler does not know.
  constexpr std::string_view kScheme = "file:";
  if (uri.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  uri.remove_prefix(kScheme.size());
  if (uri.empty()) return std::string();
  if (uri.substr(0, 2) != "//") return std::nullopt;
  uri.remove_prefix(2);
  std::string path;
  path.reserve(uri.size());
  for (size_t i = 0; i < uri.size(); ++i) {
    if (uri[i] != '%') {
      path += uri[i];
      continue;
    }
    if (i + 2 >= uri.size()) return std::nullopt;
    int high = hex_digit(uri[i + 1]), low = hex_digit(uri[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    path += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return path;
}

bool is_escape_code(std::string_view code) {
  return code == "escape" || code == "escapes" || code == "leak" || code == "iteration-variable-to-heap";
}

Result<CompilerLogFile> parse_compiler_log(std::string_view text, std::string_view name) {
  CompilerLogFile log;
  size_t line_number = 0;
  bool have_header = false;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_number;
    if (line.empty()) continue;
    json object = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (object.is_discarded()) return make_error("'{}': line {}: not JSON", name, line_number);
    if (!have_header) {
      if (Status header = read_header(object, &log); !header)
        return make_error("'{}': not a Go compiler log: {}", name, header.error().message);
      have_header = true;
      continue;
    }
    auto diagnostic = read_diagnostic(object, log.file);
    if (!diagnostic) return make_error("'{}': line {}: {}", name, line_number, diagnostic.error().message);
    log.diagnostics.push_back(std::move(*diagnostic));
  }
  if (!have_header) return make_error("'{}': empty, not a Go compiler log", name);
  return log;
}

}  // namespace gotrace
