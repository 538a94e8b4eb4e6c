// Percentages as typed on the command line (--max-overhead).
#include "base/percentage.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace gotrace {
namespace {

TEST(Percentage, WholeFractionsAndPercentSigns) {
  for (auto [text, value] : std::vector<std::pair<std::string, double>>{
           {"3", 0.03}, {"3%", 0.03}, {"0.5", 0.005}, {".5", 0.005}, {"2.", 0.02}, {"100", 1.0}, {"12.25%", 0.1225}}) {
    auto parsed = parse_percentage(text, 100);
    ASSERT_TRUE(parsed) << text << ": " << parsed.error().message;
    EXPECT_DOUBLE_EQ(*parsed, value) << text;
  }
}

TEST(Percentage, AnythingElseIsRefusedWithItsCause) {
  for (auto [text, cause] : std::vector<std::pair<std::string, std::string>>{
           {"", "empty"},
           {"%", "no digits"},
           {".", "no digits"},
           {"0", "not more than 0%"},
           {"0.0%", "not more than 0%"},
           {"100.5", "more than 100%"},
           {"99999999999999", "more than 100%"},
           {"-3", "'-' is not a digit"},
           {"+3", "'+' is not a digit"},
           {" 3", "white space is not a digit"},
           {"3 ", "white space is not a digit"},
           {"1e1", "'e' is not a digit"},
           {"nan", "'n' is not a digit"},
           {"inf", "'i' is not a digit"},
           {"1.2.3", "'.' is not a digit"},
           {"3%%", "'%' is not a digit"},
           {"0x3", "'x' is not a digit"}}) {
    auto parsed = parse_percentage(text, 100);
    ASSERT_FALSE(parsed) << "'" << text << "' accepted as " << *parsed;
    EXPECT_EQ(parsed.error().message.substr(0, cause.size()), cause) << "'" << text << "'";
  }
}

}  // namespace
}  // namespace gotrace
