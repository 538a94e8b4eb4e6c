#include "userspace/agent/series_labels.h"

#include <fnmatch.h>

#include <array>
#include <cctype>

#include "base/text_format.h"

namespace gotrace {
namespace {

// The labels the agent sets itself: a static label may not take their place.
constexpr std::array<std::string_view, 5> kOwnLabels{"service_name", "pid", "hostname", "container", "go_version"};

bool is_label_name(std::string_view name) {
  if (name.empty() || !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

}  // namespace

Result<ServiceRule> parse_service_rule(std::string_view text) {
  ServiceRule rule;
  size_t colon = text.find(':'), equals = text.rfind('=');
  if (colon == std::string_view::npos || equals == std::string_view::npos || equals < colon)
    return make_error("--service-name {}: not a rule: give exe:GLOB=NAME, path:GLOB=NAME or cgroup:GLOB=NAME",
                      quote(text));
  std::string_view field = text.substr(0, colon);
  if (field == "exe") rule.field = ServiceRule::Field::kExe;
  else if (field == "path") rule.field = ServiceRule::Field::kPath;
  else if (field == "cgroup") rule.field = ServiceRule::Field::kCgroup;
  else
    return make_error("--service-name {}: '{}' is not what a rule matches: exe, path or cgroup", quote(text), field);
  rule.glob = std::string(text.substr(colon + 1, equals - colon - 1));
  rule.name = std::string(text.substr(equals + 1));
  if (rule.glob.empty() || rule.name.empty())
    return make_error("--service-name {}: the glob and the name may not be empty", quote(text));
  return rule;
}

Result<std::pair<std::string, std::string>> parse_static_label(std::string_view text) {
  size_t equals = text.find('=');
  if (equals == std::string_view::npos) return make_error("--label {}: not KEY=VALUE", quote(text));
  std::string key(text.substr(0, equals)), value(text.substr(equals + 1));
  if (!is_label_name(key) || key.starts_with("__"))
    return make_error("--label {}: '{}' is not a label name (letters, digits and '_', not first a digit, not "
                      "starting with \"__\")",
                      quote(text), key);
  for (std::string_view own : kOwnLabels)
    if (key == own) return make_error("--label {}: '{}' is a label the agent sets itself", quote(text), key);
  if (value.empty()) return make_error("--label {}: the value may not be empty", quote(text));
  return std::pair{key, value};
}

std::string SeriesLabeler::service_of(const ProcessFacts& process) const {
  for (const ServiceRule& rule : rules_) {
    const std::string& subject = rule.field == ServiceRule::Field::kExe    ? process.exe
                                 : rule.field == ServiceRule::Field::kPath ? process.path
                                                                           : process.container;
    if (fnmatch(rule.glob.c_str(), subject.c_str(), 0) == 0) return rule.name;
  }
  return process.exe.empty() ? "unknown" : process.exe;
}

Labels SeriesLabeler::labels_of(const ProcessFacts& process) const {
  Labels labels{{"service_name", service_of(process)}, {"pid", std::to_string(process.pid)}};
  if (!hostname_.empty()) labels.emplace_back("hostname", hostname_);
  if (!process.container.empty()) labels.emplace_back("container", process.container);
  if (!process.go_version.empty()) labels.emplace_back("go_version", process.go_version);
  for (const auto& label : static_labels_) labels.push_back(label);
  return labels;
}

}  // namespace gotrace
