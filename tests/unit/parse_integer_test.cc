// Whole numbers as typed on the command line (attach's PID, --sample-rate,
// info's TARGET, symbolize's addresses): exactly a number in range, or the
// cause.
#include "base/parse_integer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gotrace {
namespace {

// Each text with its value, or the cause of its refusal.
using Outcomes = std::vector<std::pair<std::string, std::string>>;

Outcomes decimal(const std::vector<std::string>& texts, uint64_t least, uint64_t most) {
  Outcomes out;
  for (const std::string& text : texts) {
    auto value = parse_decimal(text, least, most);
    out.emplace_back(text, value ? std::to_string(*value) : value.error().message);
  }
  return out;
}

Outcomes hexadecimal(const std::vector<std::string>& texts) {
  Outcomes out;
  for (const std::string& text : texts) {
    auto value = parse_hexadecimal(text);
    out.emplace_back(text, value ? std::to_string(*value) : value.error().message);
  }
  return out;
}

TEST(ParseDecimal, DigitsInRange) {
  EXPECT_EQ(decimal({"1", "42", "0042", "4194303"}, 1, 4194303),
            (Outcomes{{"1", "1"}, {"42", "42"}, {"0042", "42"}, {"4194303", "4194303"}}));
  EXPECT_EQ(decimal({"0", "18446744073709551615"}, 0, UINT64_MAX),
            (Outcomes{{"0", "0"}, {"18446744073709551615", "18446744073709551615"}}));
}

TEST(ParseDecimal, RefusesEverythingElseWithItsCause) {
  EXPECT_EQ(decimal({"", " 1", "1 ", "1\n", "-1", "+1", "0x10", "1e3", "1E+3", "1.5", "1,000", "12abc", "abc", "nan",
                     "inf", "\x1b"},
                    1, 1000),
            (Outcomes{{"", "empty"},
                      {" 1", "white space is not allowed"},
                      {"1 ", "white space is not allowed"},
                      {"1\n", "white space is not allowed"},
                      {"-1", "negative"},
                      {"+1", "a sign is not allowed"},
                      {"0x10", "hexadecimal is not allowed (decimal digits only)"},
                      {"1e3", "an exponent is not allowed (decimal digits only)"},
                      {"1E+3", "an exponent is not allowed (decimal digits only)"},
                      {"1.5", "a fraction is not allowed (a whole number only)"},
                      {"1,000", "a fraction is not allowed (a whole number only)"},
                      {"12abc", "'abc' after the number"},
                      {"abc", "not a decimal number"},
                      {"nan", "not a decimal number"},
                      {"inf", "not a decimal number"},
                      {"\x1b", "not a decimal number"}}));
}

TEST(ParseDecimal, RefusesOutOfRangeHoweverLong) {
  EXPECT_EQ(decimal({"0", "000", "1", "5", "6", "18446744073709551616", "99999999999999999999999999999"}, 2, 5),
            (Outcomes{{"0", "zero is not allowed (at least 2)"},
                      {"000", "zero is not allowed (at least 2)"},
                      {"1", "less than 2, the least allowed"},
                      {"5", "5"},
                      {"6", "more than 5, the most allowed"},
                      {"18446744073709551616", "more than 5, the most allowed"},
                      {"99999999999999999999999999999", "more than 5, the most allowed"}}));
}

TEST(ParseHexadecimal, WithOrWithoutPrefix) {
  EXPECT_EQ(hexadecimal({"0x4a1b2c", "4a1b2c", "0XFF", "0", "0xffffffffffffffff"}),
            (Outcomes{{"0x4a1b2c", "4856620"},
                      {"4a1b2c", "4856620"},
                      {"0XFF", "255"},
                      {"0", "0"},
                      {"0xffffffffffffffff", "18446744073709551615"}}));
}

TEST(ParseHexadecimal, RefusesEverythingElseWithItsCause) {
  EXPECT_EQ(hexadecimal({"", "0x", " 0x1", "-1", "+1", "0xzz", "0x1g", "0x0x1", "0x10000000000000000"}),
            (Outcomes{{"", "empty"},
                      {"0x", "no digits after '0x'"},
                      {" 0x1", "white space is not allowed"},
                      {"-1", "negative"},
                      {"+1", "a sign is not allowed"},
                      {"0xzz", "not a hexadecimal number"},
                      {"0x1g", "'g' after the number"},
                      {"0x0x1", "'x1' after the number"},
                      {"0x10000000000000000", "more than 64 bits"}}));
}

}  // namespace
}  // namespace gotrace
