// A ByteSink that keeps what it is given, for the encoders' string forms
// (tests, small outputs).
#pragma once

#include <string>
#include <string_view>

#include "base/output_file.h"

namespace gotrace {

class StringSink final : public ByteSink {
 public:
  Status write(std::string_view bytes) override {
    text_.append(bytes);
    return Ok{};
  }
  std::string take() && { return std::move(text_); }

 private:
  std::string text_;
};

}  // namespace gotrace
