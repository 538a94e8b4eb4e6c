#include "symbolizer/pclntab.h"

#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "symbolizer/build_info.h"
#include "symbolizer/go_binary.h"

namespace gotrace {
namespace {

using Range = std::tuple<uint64_t, uint64_t, int64_t>;

std::vector<Range> decode(const std::vector<uint8_t>& table, uint64_t entry, bool* ok = nullptr) {
  std::vector<Range> ranges;
  bool result = decode_pcvalue_table(ByteView(table.data(), table.size()), 0, entry, 100,
                                     [&](uint64_t start, uint64_t end, int64_t value) {
                                       ranges.emplace_back(start, end, value);
                                     });
  if (ok) *ok = result;
  return ranges;
}

TEST(PcValue, DecodesZigZagDeltasFromMinusOne) {
  // Values start at -1: +2 → 1 for 16 bytes, -1 → 0 for 8, +300 → 300 for 129, end.
  std::vector<uint8_t> table = {0x04, 0x10, 0x01, 0x08, 0xd8, 0x04, 0x81, 0x01, 0x00};
  bool ok = false;
  EXPECT_EQ(decode(table, 0x1000, &ok),
            (std::vector<Range>{{0x1000, 0x1010, 1}, {0x1010, 0x1018, 0}, {0x1018, 0x1099, 300}}));
  EXPECT_TRUE(ok);
}

TEST(PcValue, FirstZeroDeltaIsAValueNotTheEnd) {
  // A first value delta of 0 keeps -1 (e.g. "no inlining" at the entry).
  std::vector<uint8_t> table = {0x00, 0x05, 0x02, 0x03, 0x00};
  EXPECT_EQ(decode(table, 0), (std::vector<Range>{{0, 5, -1}, {5, 8, 0}}));
}

TEST(PcValue, TruncatedTableStopsAndReportsIt) {
  std::vector<uint8_t> table = {0x04, 0x10, 0x01};
  bool ok = true;
  EXPECT_EQ(decode(table, 0, &ok), (std::vector<Range>{{0, 16, 1}}));
  EXPECT_FALSE(ok);
}

TEST(PcValue, EndlessTableIsBounded) {
  std::vector<uint8_t> table;
  for (int i = 0; i < 1000; ++i) table.insert(table.end(), {0x02, 0x00});
  EXPECT_EQ(decode(table, 0).size(), 100u);
}

TEST(GoVersion, ParsesReleaseStrings) {
  auto v = parse_go_version("go1.21.13");
  ASSERT_TRUE(v);
  EXPECT_EQ(std::tie(v->major, v->minor, v->patch), std::make_tuple(1, 21, 13));
  v = parse_go_version("go1.22rc1");
  ASSERT_TRUE(v);
  EXPECT_EQ(std::tie(v->major, v->minor), std::make_tuple(1, 22));
  v = parse_go_version("devel go1.27-1234abcd Tue Jan 1");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->minor, 27);
  EXPECT_FALSE(parse_go_version("1.21").has_value());
  EXPECT_FALSE(parse_go_version("go").has_value());
}

}  // namespace
}  // namespace gotrace
