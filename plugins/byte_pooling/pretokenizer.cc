#include "pretokenizer.h"

#include <cstdint>

namespace tinylm::byte_pooling {
namespace {

enum class Kind { kLetter, kNumber, kSpace, kOther };

// The code point at `i` and its UTF-8 length (a stray byte counts as one code point).
uint32_t CodePoint(std::string_view s, size_t i, size_t* len) {
  const auto b = static_cast<unsigned char>(s[i]);
  size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 1;
  if (i + n > s.size()) n = 1;
  uint32_t cp = n == 1 ? b : b & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c >> 6) != 2) {  // not a continuation byte: treat the lead byte alone
      *len = 1;
      return b;
    }
    cp = (cp << 6) | (c & 0x3f);
  }
  *len = n;
  return cp;
}

Kind KindOf(uint32_t cp) {
  if (cp < 0x80) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return Kind::kLetter;
    if (cp >= '0' && cp <= '9') return Kind::kNumber;
    if (cp == ' ' || (cp >= '\t' && cp <= '\r')) return Kind::kSpace;
    return Kind::kOther;
  }
  if (cp == 0xa0 || cp == 0x85 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x3000)
    return Kind::kSpace;
  if ((cp >= 0x2010 && cp <= 0x2027) || (cp >= 0x2030 && cp <= 0x205e) || (cp >= 0xa1 && cp <= 0xbf) ||
      cp == 0xd7 || cp == 0xf7)
    return Kind::kOther;
  return Kind::kLetter;
}

struct Cursor {
  std::string_view s;
  size_t Next(size_t i) const {  // index after the code point at i
    size_t len;
    CodePoint(s, i, &len);
    return i + len;
  }
  Kind At(size_t i) const {
    size_t len;
    return KindOf(CodePoint(s, i, &len));
  }
  // End of the run of `kind` starting at i.
  size_t Run(size_t i, Kind kind) const {
    while (i < s.size() && At(i) == kind) i = Next(i);
    return i;
  }
};

// Length of a contraction ('s 't 're 've 'm 'll 'd) at i, or 0.
size_t Contraction(std::string_view s, size_t i) {
  if (s[i] != '\'') return 0;
  for (std::string_view c : {"s", "t", "re", "ve", "m", "ll", "d"})
    if (s.substr(i + 1, c.size()) == c) return 1 + c.size();
  return 0;
}

}  // namespace

std::vector<std::string_view> PreTokenize(std::string_view text) {
  std::vector<std::string_view> out;
  const Cursor c{text};
  size_t i = 0;
  while (i < text.size()) {
    size_t end = i + Contraction(text, i);
    if (end == i) {
      // " ?" then a run of letters, digits or other symbols.
      const size_t body = text[i] == ' ' && i + 1 < text.size() && c.At(i + 1) != Kind::kSpace ? i + 1 : i;
      const Kind k = c.At(body);
      if (k != Kind::kSpace) {
        end = c.Run(body, k);
      } else {
        // Whitespace: the run, minus its last character when a non-space follows (that one
        // then prefixes the next word, or stands alone); a single such character stands alone.
        end = c.Run(i, Kind::kSpace);
        if (end < text.size()) {
          size_t last = i, p = i;
          while (p < end) last = p, p = c.Next(p);
          if (last > i) end = last;
        }
      }
    }
    out.push_back(text.substr(i, end - i));
    i = end;
  }
  return out;
}

}  // namespace tinylm::byte_pooling
