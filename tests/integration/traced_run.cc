#include "tests/integration/traced_run.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace gotrace::testing {

bool nearly_equal(int64_t got, int64_t want) {
  int64_t tolerance = std::max<int64_t>(3, want / 1000);
  return got >= want - tolerance && got <= want + tolerance;
}

void expect_nothing_lost(const std::string& gotrace_stderr) {
  EXPECT_NE(gotrace_stderr.find("; 0 events lost"), std::string::npos) << gotrace_stderr;
  EXPECT_EQ(gotrace_stderr.find("cut at the root end"), std::string::npos) << gotrace_stderr;
}

}  // namespace gotrace::testing
