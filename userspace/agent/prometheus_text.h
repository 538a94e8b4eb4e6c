// A writer of Prometheus' text exposition format (version 0.0.4), for the
// agent's --health endpoint.
//
// Only what the agent reports is here: counters and gauges, each family with
// its # HELP and # TYPE lines, samples with labels. The format is strict in
// a few places a hand-written printf gets wrong, and a scraper then refuses
// the whole page: label values escape \, " and newline; HELP escapes \ and
// newline; numbers are Go float syntax (NaN, +Inf, -Inf), and counters past
// 2^53 must not pass through a double. Names are the caller's constants and
// are checked only by assertion.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gotrace {

enum class MetricType { counter, gauge };

// A sample's labels, in the order they are written.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  // Starts a family: writes its # HELP and # TYPE lines. Every sample that
  // follows, until the next family, belongs to it and carries its name. A
  // counter's name should end in _total, as Prometheus' conventions ask.
  void family(std::string_view name, MetricType type, std::string_view help);

  // One sample of the current family.
  void sample(const MetricLabels& labels, uint64_t value);
  void sample(const MetricLabels& labels, int64_t value);
  void sample(const MetricLabels& labels, double value);
  // A sample without labels.
  void sample(uint64_t value) { sample(MetricLabels{}, value); }
  void sample(int64_t value) { sample(MetricLabels{}, value); }
  void sample(double value) { sample(MetricLabels{}, value); }

  const std::string& text() const { return text_; }
  std::string take() { return std::move(text_); }

 private:
  void write_sample(const MetricLabels& labels, std::string_view value);

  std::string text_;
  std::string family_;  // the name of the current family
};

// The pieces, for tests and for whoever writes the format elsewhere.
// "a\"b\\c\nd" -> a\"b\\c\nd, as it goes between the quotes of a label value.
std::string escape_label_value(std::string_view value);
// Help text: \ and newline escaped, quotes left alone.
std::string escape_help(std::string_view help);
// A number as Prometheus parses it: NaN, +Inf, -Inf, integers without a
// fraction or exponent while a double holds them exactly, otherwise the
// shortest text that reads back as the same double.
std::string format_metric_value(double value);
// [a-zA-Z_:][a-zA-Z0-9_:]* (colons only for metric names, not labels).
bool is_metric_name(std::string_view name);
bool is_label_name(std::string_view name);

}  // namespace gotrace
