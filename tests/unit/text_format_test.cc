// Numbers for people: the edges the screen model's tests (which hold the
// everyday cases) do not reach.
#include "base/text_format.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace gotrace {
namespace {

constexpr uint64_t kKiB = 1024, kMiB = kKiB * 1024, kGiB = kMiB * 1024, kTiB = kGiB * 1024;

TEST(FormatBytes, MovesUpAUnitExactlyAtOneKiB) {
  EXPECT_EQ(format_bytes(1), "1 B");
  EXPECT_EQ(format_bytes(kKiB), "1.0 KiB");
  EXPECT_EQ(format_bytes(kMiB), "1.0 MiB");
  EXPECT_EQ(format_bytes(5 * kGiB), "5.0 GiB");
  EXPECT_EQ(format_bytes(kTiB + kTiB / 2), "1.5 TiB");
}

TEST(FormatBytes, RoundsWithinAUnitUntilItWouldReadAsTheNext) {
  // 1048524 B is 1023.949 KiB, printed as such; one byte more would round
  // to "1024.0 KiB", so it is 1.0 MiB.
  EXPECT_EQ(format_bytes(1048524), "1023.9 KiB");
  EXPECT_EQ(format_bytes(1048525), "1.0 MiB");
  EXPECT_EQ(format_bytes(kGiB - 1), "1.0 GiB");
}

TEST(FormatBytes, TiBIsTheLargestUnit) {
  EXPECT_EQ(format_bytes(1024 * kTiB), "1024.0 TiB");
  EXPECT_EQ(format_bytes(UINT64_MAX), "16777216.0 TiB");
}

TEST(FormatBytes, CompactDropsTheDecimalFromOneHundredUp) {
  EXPECT_EQ(format_bytes(100 * kKiB, true), "100 KiB");
  EXPECT_EQ(format_bytes(102297, true), "99.9 KiB");  // 99.899 KiB
  EXPECT_EQ(format_bytes(999 * kMiB, true), "999 MiB");
  EXPECT_EQ(format_bytes(5 * kGiB, true), "5.0 GiB");
  EXPECT_EQ(format_bytes(0, true), "0 B");
}

TEST(FormatCount, FractionsKeepADecimalOnlyBelowTen) {
  EXPECT_EQ(format_count(0.1), "0.1");
  EXPECT_EQ(format_count(2.5), "2.5");
  EXPECT_EQ(format_count(9.94), "9.9");
  EXPECT_EQ(format_count(9.96), "10");  // rounds to a whole number
  EXPECT_EQ(format_count(3), "3");
  EXPECT_EQ(format_count(10.4), "10");
  EXPECT_EQ(format_count(10.6), "11");
  EXPECT_EQ(format_count(999.4), "999");
}

TEST(FormatCount, SiUnitsUpToPeta) {
  EXPECT_EQ(format_count(999999), "1.0M");  // not "1000.0k"
  EXPECT_EQ(format_count(2.5e12), "2.5T");
  EXPECT_EQ(format_count(1e15), "1.0P");
  EXPECT_EQ(format_count(1e18), "1000.0P");
}

TEST(Quote, ControlCharactersCannotBreakTheLine) {
  EXPECT_EQ(quote("5s"), "'5s'");
  EXPECT_EQ(quote(""), "''");
  EXPECT_EQ(quote("a\nb\x1b[2J\x7f"), "'a\\x0ab\\x1b[2J\\x7f'");
  EXPECT_EQ(quote("µs"), "'µs'");  // UTF-8 is printable as it is
}

}  // namespace
}  // namespace gotrace
