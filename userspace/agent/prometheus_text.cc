#include "userspace/agent/prometheus_text.h"

#include <cassert>
#include <cmath>

#include <fmt/format.h>

namespace gotrace {
namespace {

bool name_character(char c, bool first, bool colon_allowed) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (c == ':') return colon_allowed;
  return !first && c >= '0' && c <= '9';
}

bool is_name(std::string_view name, bool colon_allowed) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (!name_character(name[i], i == 0, colon_allowed)) return false;
  return true;
}

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
  }
  return "untyped";
}

}  // namespace

bool is_metric_name(std::string_view name) { return is_name(name, true); }
bool is_label_name(std::string_view name) { return is_name(name, false); }

std::string escape_label_value(std::string_view value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (char c : value) {
    if (c == '\\') escaped += "\\\\";
    else if (c == '"') escaped += "\\\"";
    else if (c == '\n') escaped += "\\n";
    else escaped += c;
  }
  return escaped;
}

std::string escape_help(std::string_view help) {
  std::string escaped;
  escaped.reserve(help.size());
  for (char c : help) {
    if (c == '\\') escaped += "\\\\";
    else if (c == '\n') escaped += "\\n";
    else escaped += c;
  }
  return escaped;
}

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Below 2^53 every integer is exact in a double: print it as one, never as
  // 1e+15, which Prometheus reads fine but people do not.
  if (value == std::trunc(value) && std::fabs(value) < 9007199254740992.0)
    return fmt::format("{}", static_cast<int64_t>(value));
  return fmt::format("{}", value);  // the shortest text that reads back exactly
}

void PrometheusText::family(std::string_view name, MetricType type, std::string_view help) {
  assert(is_metric_name(name));
  family_ = name;
  text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name, type_name(type));
}

void PrometheusText::sample(const MetricLabels& labels, uint64_t value) { write_sample(labels, fmt::format("{}", value)); }

void PrometheusText::sample(const MetricLabels& labels, int64_t value) { write_sample(labels, fmt::format("{}", value)); }

void PrometheusText::sample(const MetricLabels& labels, double value) { write_sample(labels, format_metric_value(value)); }

void PrometheusText::write_sample(const MetricLabels& labels, std::string_view value) {
  assert(!family_.empty());
  text_ += family_;
  if (!labels.empty()) {
    text_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      assert(is_label_name(labels[i].first));
      text_ += fmt::format("{}{}=\"{}\"", i == 0 ? "" : ",", labels[i].first, escape_label_value(labels[i].second));
    }
    text_ += '}';
  }
  text_ += ' ';
  text_ += value;
  text_ += '\n';
}

}  // namespace gotrace
