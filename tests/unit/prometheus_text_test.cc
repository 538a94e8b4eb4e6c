// Prometheus' text format as the agent writes it: exact text for the rules
// that matter, and a round trip through Prometheus' own Python parser.
#include "userspace/agent/prometheus_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include <unistd.h>

#include "tests/support/scratch_file.h"

namespace gotrace {
namespace {

TEST(PrometheusText, FamiliesHaveHelpTypeAndSamples) {
  PrometheusText text;
  text.family("gotrace_pushes_total", MetricType::counter, "Profiles pushed.");
  text.sample({{"result", "sent"}}, uint64_t{3});
  text.sample({{"result", "dropped"}}, uint64_t{0});
  text.family("gotrace_push_queue_bytes", MetricType::gauge, "Bytes waiting.");
  text.sample(int64_t{-2});
  EXPECT_EQ(text.text(),
            "# HELP gotrace_pushes_total Profiles pushed.\n"
            "# TYPE gotrace_pushes_total counter\n"
            "gotrace_pushes_total{result=\"sent\"} 3\n"
            "gotrace_pushes_total{result=\"dropped\"} 0\n"
            "# HELP gotrace_push_queue_bytes Bytes waiting.\n"
            "# TYPE gotrace_push_queue_bytes gauge\n"
            "gotrace_push_queue_bytes -2\n");
}

TEST(PrometheusText, LabelValuesAndHelpAreEscaped) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(escape_help("say \"hi\"\\\nthen"), "say \"hi\"\\\\\\nthen");
  PrometheusText text;
  text.family("m", MetricType::gauge, "line one\nline two");
  text.sample({{"path", "C:\\go\\\"x\"\n"}, {"empty", ""}}, 1.5);
  EXPECT_EQ(text.text(), "# HELP m line one\\nline two\n# TYPE m gauge\nm{path=\"C:\\\\go\\\\\\\"x\\\"\\n\",empty=\"\"} 1.5\n");
}

TEST(PrometheusText, NumbersAreWrittenAsPrometheusReadsThem) {
  EXPECT_EQ(format_metric_value(0.0), "0");
  EXPECT_EQ(format_metric_value(-0.0), "0");
  EXPECT_EQ(format_metric_value(42.0), "42");
  EXPECT_EQ(format_metric_value(-7.0), "-7");
  EXPECT_EQ(format_metric_value(0.25), "0.25");
  EXPECT_EQ(format_metric_value(1e300), "1e+300");
  EXPECT_EQ(format_metric_value(9007199254740991.0), "9007199254740991");
  EXPECT_EQ(format_metric_value(std::nan("")), "NaN");
  EXPECT_EQ(format_metric_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_metric_value(-std::numeric_limits<double>::infinity()), "-Inf");
  PrometheusText text;
  text.family("big_total", MetricType::counter, "");
  text.sample(std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(text.text(), "# HELP big_total \n# TYPE big_total counter\nbig_total 18446744073709551615\n");
}

TEST(PrometheusText, NamesAreChecked) {
  EXPECT_TRUE(is_metric_name("gotrace:push_total"));
  EXPECT_TRUE(is_label_name("_pid"));
  EXPECT_FALSE(is_label_name("a:b"));
  EXPECT_FALSE(is_metric_name("1abc"));
  EXPECT_FALSE(is_metric_name(""));
  EXPECT_FALSE(is_label_name("a-b"));
}

// Prometheus' Python client parses the page; the script prints each sample
// as name, labels (sorted) and value, one line each.
constexpr const char* kParseScript = R"(
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in family.samples:
        labels = ",".join(k + "=" + repr(v) for k, v in sorted(s.labels.items()))
        print(family.type, s.name, labels, repr(s.value))
)";

TEST(PrometheusText, PrometheusOwnParserReadsIt) {
  const char* python = "/usr/bin/python3";
  bool parser_present = access(python, X_OK) == 0 &&
                        std::system("/usr/bin/python3 -c 'import prometheus_client.parser' 2>/dev/null") == 0;
  // scripts/setup.sh installs it: its absence is a failure, never a skip.
  ASSERT_TRUE(parser_present) << "python3-prometheus-client is missing: run scripts/setup.sh";
  PrometheusText text;
  text.family("gotrace_pushes_total", MetricType::counter, "Profiles pushed,\nby \\result.");
  text.sample({{"result", "sent"}, {"target", "http://h:4040/\"x\"\\y\nz"}}, uint64_t{123456789012});
  text.family("gotrace_up", MetricType::gauge, "Whether the agent runs.");
  text.sample(1.0);
  text.sample({{"kind", "nan"}}, std::nan(""));
  text.sample({{"kind", "inf"}}, -std::numeric_limits<double>::infinity());
  text.sample({{"kind", "fraction"}}, 0.1);
  testing::ScratchFile page("metrics.txt"), script("parse_metrics.py");
  page.write(text.text());
  script.write(kParseScript);
  FILE* output = popen((std::string(python) + " " + script.path() + " " + page.path() + " 2>&1").c_str(), "r");
  ASSERT_NE(output, nullptr);
  std::string parsed;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, output)) > 0;) parsed.append(buffer, n);
  EXPECT_EQ(pclose(output), 0) << parsed;
  EXPECT_EQ(parsed,
            "counter gotrace_pushes_total result='sent',target='http://h:4040/\"x\"\\\\y\\nz' 123456789012.0\n"
            "gauge gotrace_up  1.0\n"
            "gauge gotrace_up kind='nan' nan\n"
            "gauge gotrace_up kind='inf' -inf\n"
            "gauge gotrace_up kind='fraction' 0.1\n");
}

}  // namespace
}  // namespace gotrace
