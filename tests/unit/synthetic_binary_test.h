// A test fixture holding a synthetic Go executable written to a scratch
// file (the fuzz seeds' builder: runtime.mallocgc, main.helper, and
// main.main with main.middle and main.inner inlined), so that tests of what
// is built from stacks need no Go toolchain.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "symbolizer/go_binary.h"
#include "tests/fuzz/synthetic_go.h"

namespace gotrace {

class SyntheticBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Go 1.26: the runtime's profile keeps the frame that called mallocgc.
    fuzz::Spec spec{"synthetic", "go1.26.8", fuzz::Format::kGo120, true, false, false, false, 296, 304, 320};
    fuzz::Bytes bytes = fuzz::make_go_binary(spec);
    path_ = (std::filesystem::temp_directory_path() / fmt::format("gotrace-synthetic-{}", getpid())).string();
    std::ofstream(path_, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    auto opened = GoBinary::open(path_);
    ASSERT_TRUE(opened) << opened.error().message;
    binary_ = std::move(*opened);
  }
  void TearDown() override { std::filesystem::remove(path_); }

  // A return address inside `function`, `offset` bytes from its start.
  static uint64_t in(std::string_view function, uint32_t offset) {
    for (const fuzz::Function& f : fuzz::kFunctions)
      if (f.name == function) return fuzz::kText + f.start + offset;
    ADD_FAILURE() << "no synthetic function " << function;
    return 0;
  }

  std::string path_;
  std::unique_ptr<GoBinary> binary_;
};

}  // namespace gotrace
