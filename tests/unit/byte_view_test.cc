#include "symbolizer/byte_view.h"

#include <gtest/gtest.h>

#include <vector>

namespace gotrace {
namespace {

TEST(ByteView, ReadsInsideAndRefusesOutside) {
  std::vector<uint8_t> bytes = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  ByteView view(bytes.data(), bytes.size());
  EXPECT_EQ(view.read<uint32_t>(0), 0x04030201u);
  EXPECT_EQ(view.read<uint64_t>(1), 0x0908070605040302ull);  // unaligned is fine
  EXPECT_FALSE(view.read<uint64_t>(2).has_value());
  EXPECT_FALSE(view.read<uint8_t>(9).has_value());
  EXPECT_FALSE(view.subview(8, 2).has_value());
  EXPECT_FALSE(view.subview(UINT64_MAX, 2).has_value());  // no overflow on offset + length
  EXPECT_FALSE(view.contains(1, UINT64_MAX));
  EXPECT_TRUE(view.tail(100).empty());
}

TEST(ByteView, CStringNeedsTerminatorWithinLimits) {
  std::vector<uint8_t> bytes = {'a', 'b', 0, 'c', 'd'};
  ByteView view(bytes.data(), bytes.size());
  EXPECT_EQ(view.cstring(0), "ab");
  EXPECT_EQ(view.cstring(2), "");
  EXPECT_FALSE(view.cstring(3).has_value());     // runs off the end
  EXPECT_FALSE(view.cstring(0, 2).has_value());  // longer than allowed
}

TEST(ByteView, Uvarint) {
  std::vector<uint8_t> bytes = {0x96, 0x01, 0x7f, 0x80};
  ByteView view(bytes.data(), bytes.size());
  uint64_t offset = 0;
  EXPECT_EQ(view.uvarint(&offset), 150u);
  EXPECT_EQ(offset, 2u);
  EXPECT_EQ(view.uvarint(&offset), 127u);
  EXPECT_FALSE(view.uvarint(&offset).has_value());  // continuation byte at the end

  std::vector<uint8_t> too_long(11, 0xff);
  ByteView long_view(too_long.data(), too_long.size());
  offset = 0;
  EXPECT_FALSE(long_view.uvarint(&offset).has_value());
}

}  // namespace
}  // namespace gotrace
