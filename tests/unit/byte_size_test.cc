// Sizes as typed on the command line (--max-memory).
#include "base/byte_size.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gotrace {
namespace {

constexpr uint64_t kKiB = 1024, kMiB = kKiB * 1024, kGiB = kMiB * 1024;

TEST(ParseByteSize, NumbersWithTheirUnits) {
  std::vector<std::pair<std::string, uint64_t>> cases = {
      {"4096", 4096},          {"4096B", 4096},        {"1b", 1},
      {"64K", 64 * kKiB},      {"64KiB", 64 * kKiB},   {"64kb", 64000},
      {"256M", 256 * kMiB},    {"256MiB", 256 * kMiB}, {"256m", 256 * kMiB},
      {"256MB", 256000000},    {"1G", kGiB},           {"1GiB", kGiB},
      {"1gib", kGiB},          {"2GB", 2000000000},    {"1T", 1024 * kGiB},
      {"1TiB", 1024 * kGiB},   {"1TB", 1000000000000}, {"1.5GiB", kGiB + kGiB / 2},
      {"1.25G", kGiB + kGiB / 4}, {"0.5M", kMiB / 2},  {"2.0KiB", 2048},
      {"007M", 7 * kMiB},
  };
  for (const auto& [text, bytes] : cases) {
    auto size = parse_byte_size(text);
    ASSERT_TRUE(size) << text << ": " << size.error().message;
    EXPECT_EQ(*size, bytes) << text;
  }
}

TEST(ParseByteSize, AFractionOfAByteIsDropped) {
  auto size = parse_byte_size("1.5B");
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, 1u);
  size = parse_byte_size("0.1K");
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, 102u);
}

TEST(ParseByteSize, RefusesWhatIsNotASize) {
  for (std::string text : {"", " 1G", "1G ", "1 G", "-1G", "+1G", "0", "0K", "0.0G", "0.0001B", "1e9", "0x100",
                           "1.", ".5G", "1..5G", "1.5.G", "G", "MiB", "1Q", "1GiBs", "1KK", "1iB", "1Mi", "1GB2",
                           "nan", "inf", "1,5G", "5000000000G", "4611686018427387905", "99999999999999999999999",
                           "4TiBx"}) {
    auto size = parse_byte_size(text);
    EXPECT_FALSE(size) << "'" << text << "' parsed as " << (size ? *size : 0);
    if (!size) {
      EXPECT_EQ(size.error().message, "use a number and a unit, e.g. 256MiB, 1GiB, 512m");
    }
  }
}

TEST(ParseByteSize, TheLargestSizeIsTwoToTheSixtySecond) {
  auto size = parse_byte_size("4611686018427387904");
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, uint64_t(1) << 62);
  EXPECT_TRUE(parse_byte_size("4194304TiB"));
  EXPECT_FALSE(parse_byte_size("4194304.5TiB"));
}

}  // namespace
}  // namespace gotrace
