// A streaming reader for the JSON our data formats use: a top-level array of strings (or an
// object with such an array as one member), and one object per line (JSONL). It never builds
// a tree, so a multi-GB JSON array is read document by document in bounded memory, and it is
// several times faster than a general parser on JSONL corpora. Standard JSON (RFC 8259, but raw
// control characters are accepted in strings, as the general parser before it did):
// strings with every escape including surrogate pairs; any other value is validated and
// skipped, nested up to kMaxDepth.
#pragma once
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tinylm::json {

constexpr int kMaxDepth = 200;

// Thrown for malformed JSON; `offset` is the byte where reading stopped.
struct Error : std::runtime_error {
  Error(const std::string& what, size_t at) : std::runtime_error(what), offset(at) {}
  size_t offset;
};

class Reader {
 public:
  explicit Reader(std::string_view text) : s_(text) {}
  size_t offset() const { return pos_; }
  void SkipSpace();
  bool AtEnd() {
    SkipSpace();
    return pos_ >= s_.size();
  }
  char Peek();  // next non-space character, or 0 at the end
  void Expect(char c);
  // A string value (escapes decoded to UTF-8) into *out.
  void String(std::string* out);
  // A non-negative integer value (digits only: no sign, fraction or exponent) below 2^63, as
  // binary formats' JSON headers write sizes and offsets (safetensors).
  uint64_t Unsigned();
  // Validates and skips any value.
  void SkipValue(int depth = 0);
  // Calls member(key) for each member of an object; member must consume the value.
  void Object(const std::function<void(const std::string& key)>& member);
  // Calls element(index) for each element of an array; element must consume the value.
  void Array(const std::function<void(int64_t index)>& element);
  [[noreturn]] void Fail(const std::string& what) const { throw Error(what, pos_); }

 private:
  // open item (',' item)* close, or open close.
  void Sequence(char open, char close, const std::function<void(int64_t index)>& item);
  void Literal(std::string_view word);
  void Number();
  uint32_t Hex4();
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace tinylm::json
