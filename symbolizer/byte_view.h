// Bounds-checked reads from untrusted bytes.
//
// The binary of a traced process is untrusted input to a program running as
// root. Every read of it goes through ByteView: each accessor checks the range
// (with overflow-safe arithmetic) and copies with memcpy, so unaligned or
// truncated data can never cause undefined behaviour. A failed read is an
// empty optional; callers turn it into an Error that names what was missing.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

namespace gotrace {

class ByteView {
 public:
  ByteView() = default;
  ByteView(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}
  explicit ByteView(std::span<const uint8_t> bytes) : data_(bytes.data()), size_(bytes.size()) {}

  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const uint8_t* data() const { return data_; }

  // True when [offset, offset+length) lies inside the view.
  bool contains(uint64_t offset, uint64_t length) const {
    return offset <= size_ && length <= size_ - offset;
  }

  // A little-endian trivially copyable value at `offset`.
  template <typename T>
  std::optional<T> read(uint64_t offset) const {
    static_assert(std::is_trivially_copyable_v<T>);
    if (!contains(offset, sizeof(T))) return std::nullopt;
    T value;
    std::memcpy(&value, data_ + offset, sizeof(T));
    return value;
  }

  // The same as read(), for callers that have checked the range already.
  template <typename T>
  T read_unchecked(uint64_t offset) const {
    T value;
    std::memcpy(&value, data_ + offset, sizeof(T));
    return value;
  }

  std::optional<ByteView> subview(uint64_t offset, uint64_t length) const {
    if (!contains(offset, length)) return std::nullopt;
    return ByteView(data_ + offset, length);
  }

  // Everything from `offset` to the end (empty when offset is past the end).
  ByteView tail(uint64_t offset) const {
    if (offset >= size_) return ByteView();
    return ByteView(data_ + offset, size_ - offset);
  }

  // A NUL-terminated string starting at `offset`, without the NUL. Fails if
  // no NUL appears within `max_length` bytes or before the end of the view.
  std::optional<std::string_view> cstring(uint64_t offset, uint64_t max_length = 64 * 1024) const {
    if (offset >= size_) return std::nullopt;
    uint64_t limit = size_ - offset < max_length ? size_ - offset : max_length;
    const void* nul = std::memchr(data_ + offset, 0, limit);
    if (nul == nullptr) return std::nullopt;
    return std::string_view(reinterpret_cast<const char*>(data_ + offset),
                            static_cast<const uint8_t*>(nul) - (data_ + offset));
  }

  // `length` bytes at `offset` as text.
  std::optional<std::string_view> string(uint64_t offset, uint64_t length) const {
    if (!contains(offset, length)) return std::nullopt;
    return std::string_view(reinterpret_cast<const char*>(data_ + offset), length);
  }

  // An unsigned LEB128 varint (Go's encoding/binary.Uvarint) at `*offset`;
  // advances `*offset` past it. At most 10 bytes, as Go allows for 64 bits.
  std::optional<uint64_t> uvarint(uint64_t* offset) const {
    uint64_t value = 0;
    for (unsigned shift = 0, i = 0; i < 10; ++i, shift += 7) {
      if (*offset >= size_) return std::nullopt;
      uint8_t byte = data_[(*offset)++];
      if (i == 9 && byte > 1) return std::nullopt;  // overflows 64 bits
      value |= uint64_t(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    return std::nullopt;
  }

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace gotrace
