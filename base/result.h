// Errors as values for gotrace.
//
// A Result<T> holds either a T or an Error. Only `main` turns an Error into
// text on stderr and an exit code; every library function returns one instead
// of throwing or printing. std::expected would do the same job, but the
// clang on our build machines (used for the libFuzzer build) cannot compile
// libstdc++'s <expected>, so this is a deliberately small equivalent.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace gotrace {

// One line of text that names the thing that failed and why, e.g.
// "'/usr/bin/ls': not a Go binary (no pclntab found)".
struct Error {
  std::string message;
};

// Builds an Error from a fmt format string.
template <typename... Args>
Error make_error(fmt::format_string<Args...> format, Args&&... args) {
  return Error{fmt::format(format, std::forward<Args>(args)...)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(state_); }
  const T& value() const& { assert(has_value()); return std::get<0>(state_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { assert(!has_value()); return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Result of an operation that produces nothing but may fail.
struct Ok {};
using Status = Result<Ok>;

// Prefixes the error of a failed Result with context, e.g. the file name.
inline Error with_context(const Error& error, std::string_view context) {
  return Error{fmt::format("{}: {}", context, error.message)};
}

}  // namespace gotrace
