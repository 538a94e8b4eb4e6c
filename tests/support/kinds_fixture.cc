#include "tests/support/kinds_fixture.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>

namespace gotrace::testing {

std::map<int64_t, std::string> declared_kinds(const std::string& source) {
  std::ifstream in(source);
  EXPECT_TRUE(in) << "cannot read " << source;
  std::map<int64_t, std::string> kinds;
  std::regex comment(R"(^\s*// kind: (\w+)$)");
  std::string pending;
  int64_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (!pending.empty()) kinds[number] = pending;
    pending.clear();
    if (std::smatch m; std::regex_match(line, m, comment)) pending = m[1];
  }
  return kinds;
}

bool makes_kind(const std::string& callee, const std::string& kind) {
  if (callee == kind) return true;
  bool new_object = kind == "newobject" || kind == "closure";
  return new_object && (callee == "newobject" || (callee.starts_with("mallocgc") && callee != "mallocgc"));
}

}  // namespace gotrace::testing
