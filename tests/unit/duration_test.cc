// Durations as typed on the command line (attach -d).
#include "base/duration.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace gotrace {
namespace {

using namespace std::chrono_literals;

using Durations = std::vector<std::chrono::nanoseconds>;

// What each text parses as; -1ns, and a test failure, where one does not.
Durations parsed(const std::vector<std::string>& texts) {
  Durations out;
  for (const std::string& text : texts) {
    auto duration = parse_duration(text);
    EXPECT_TRUE(duration) << text << ": " << duration.error().message;
    out.push_back(duration ? *duration : std::chrono::nanoseconds(-1));
  }
  return out;
}

// Each text with the cause parse_duration gives for refusing it (the
// examples that end every message left off), or "accepted".
using Causes = std::vector<std::pair<std::string, std::string>>;
Causes causes(const std::vector<std::string>& texts) {
  const std::string examples = " (units ms, s, m, h: e.g. 30s, 2m, 1h30m, 500ms)";
  Causes out;
  for (const std::string& text : texts) {
    auto duration = parse_duration(text);
    std::string cause = duration ? "accepted" : duration.error().message;
    if (cause.ends_with(examples)) cause.resize(cause.size() - examples.size());
    out.emplace_back(text, cause);
  }
  return out;
}

TEST(ParseDuration, OneNumberWithItsUnit) {
  EXPECT_EQ(parsed({"500ms", "30s", "2m", "3h", "1.5s", "0.25h", ".5s", "007s"}),
            (Durations{500ms, 30s, 2min, 3h, 1500ms, 15min, 500ms, 7s}));
}

TEST(ParseDuration, UnitsAddUpInAnyOrder) {
  // "ms" is milliseconds wherever it stands; "m" alone is minutes.
  EXPECT_EQ(parsed({"1h30m", "1m30s", "2s500ms", "30s1m", "5m5ms"}), (Durations{90min, 90s, 2500ms, 90s, 300005ms}));
}

TEST(ParseDuration, RefusesWhatIsNotADurationWithItsCause) {
  EXPECT_EQ(causes({"", " 5s", "5s ", "5 s", "5s\n", "-5s", "+5s", "10", "1.5", "s", "10x", "1d", "5us", "1h-5m",
                    "1.2.3s", "5s,"}),
            (Causes{{"", "empty"},
                    {" 5s", "white space is not allowed"},
                    {"5s ", "white space is not allowed"},
                    {"5 s", "white space is not allowed"},
                    {"5s\n", "white space is not allowed"},
                    {"-5s", "negative"},
                    {"+5s", "a sign is not allowed"},
                    {"10", "'10' has no unit"},
                    {"1.5", "'1.5' has no unit"},
                    {"s", "'s' does not start with a number"},
                    {"10x", "unknown unit 'x'"},
                    {"1d", "unknown unit 'd'"},
                    {"5us", "unknown unit 'us'"},
                    {"1h-5m", "'-5m' does not start with a number"},
                    {"1.2.3s", "'.3s' after '1.2'"},
                    {"5s,", "',' does not start with a number"}}));
}

TEST(ParseDuration, RefusesNanInfinityExponentsAndHex) {
  // What strtod and from_chars would read as numbers: "nans" once parsed as
  // not-a-number seconds, a trace that never ended.
  EXPECT_EQ(causes({"nans", "nanms", "NaNs", "infs", "infinityh", "1e3s", "1E+3s", "0x10s", "5s\x1b[2J"}),
            (Causes{{"nans", "'nans' does not start with a number"},
                    {"nanms", "'nanms' does not start with a number"},
                    {"NaNs", "'NaNs' does not start with a number"},
                    {"infs", "'infs' does not start with a number"},
                    {"infinityh", "'infinityh' does not start with a number"},
                    {"1e3s", "an exponent is not allowed"},
                    {"1E+3s", "an exponent is not allowed"},
                    {"0x10s", "hexadecimal is not allowed"},
                    {"5s\x1b[2J", "'\\x1b[2J' does not start with a number"}}));
}

TEST(ParseDuration, RefusesZeroAndAbsurdlyLong) {
  EXPECT_EQ(causes({"0s", "0h0m", "0.0s", "0.0000000001s", "1000000001s", "300000h", "99999999999999999999999999h"}),
            (Causes{{"0s", "zero is not allowed"},
                    {"0h0m", "zero is not allowed"},
                    {"0.0s", "zero is not allowed"},
                    {"0.0000000001s", "shorter than a nanosecond"},
                    {"1000000001s", "longer than 1000000000s (about 31.7 years), the most allowed"},
                    {"300000h", "longer than 1000000000s (about 31.7 years), the most allowed"},
                    {"99999999999999999999999999h", "longer than 1000000000s (about 31.7 years), the most allowed"}}));
  // A billion seconds is the most it takes; a nanosecond the least.
  EXPECT_EQ(parsed({"1000000000s", "0.000000001s"}), (Durations{1000000000s, 1ns}));
}

}  // namespace
}  // namespace gotrace
