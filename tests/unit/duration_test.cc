// Durations as typed on the command line (attach -d).
#include "base/duration.h"

#include <gtest/gtest.h>

#include <string>
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

// The texts that do not parse.
std::vector<std::string> refused(const std::vector<std::string>& texts) {
  std::vector<std::string> out;
  for (const std::string& text : texts) {
    auto duration = parse_duration(text);
    if (!duration) {
      EXPECT_EQ(duration.error().message, "'" + text + "': not a duration (use e.g. 30s, 2m, 1h30m, 500ms)");
      out.push_back(text);
    }
  }
  return out;
}

TEST(ParseDuration, OneNumberWithItsUnit) {
  EXPECT_EQ(parsed({"500ms", "30s", "2m", "3h", "1.5s", "0.25h"}), (Durations{500ms, 30s, 2min, 3h, 1500ms, 15min}));
}

TEST(ParseDuration, UnitsAddUpInAnyOrder) {
  // "ms" is milliseconds wherever it stands; "m" alone is minutes.
  EXPECT_EQ(parsed({"1h30m", "1m30s", "2s500ms", "30s1m", "5m5ms"}), (Durations{90min, 90s, 2500ms, 90s, 300005ms}));
}

TEST(ParseDuration, RefusesWhatIsNotADuration) {
  // A number needs its unit, and a unit its number.
  const std::vector<std::string> texts = {"", "10", "10x", "s", "5 s", "1d", "1h-5m"};
  EXPECT_EQ(refused(texts), texts);
}

TEST(ParseDuration, RefusesZeroNegativeAndAbsurdlyLong) {
  EXPECT_EQ(refused({"0s", "0h0m", "-5s", "1000000001s", "300000h"}),
            (std::vector<std::string>{"0s", "0h0m", "-5s", "1000000001s", "300000h"}));
  // A billion seconds (about 31.7 years) is the most it takes.
  EXPECT_EQ(parsed({"1000000000s"}), Durations{1000000000s});
}

}  // namespace
}  // namespace gotrace
