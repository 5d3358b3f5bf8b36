#include "json_reader.h"

namespace tinylm::json {

void Reader::SkipSpace() {
  while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
}

char Reader::Peek() {
  SkipSpace();
  return pos_ < s_.size() ? s_[pos_] : 0;
}

void Reader::Expect(char c) {
  if (Peek() != c) Fail(pos_ >= s_.size() ? std::string("unexpected end, expected '") + c + "'"
                                           : std::string("expected '") + c + "'");
  ++pos_;
}

uint32_t Reader::Hex4() {
  if (pos_ + 4 > s_.size()) Fail("truncated \\u escape");
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    const char c = s_[pos_++];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else Fail("bad hex digit in \\u escape");
  }
  return v;
}

namespace {
void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}
}  // namespace

void Reader::String(std::string* out) {
  Expect('"');
  out->clear();
  for (;;) {
    // Copy the run up to the next quote or backslash in one go.
    size_t end = pos_;
    // Raw control characters (a tab, a NUL) are accepted inside strings, as the general
    // parser that read these files before did: corpora in the wild contain them.
    while (end < s_.size() && s_[end] != '"' && s_[end] != '\\') ++end;
    out->append(s_.data() + pos_, end - pos_);
    pos_ = end;
    if (pos_ >= s_.size()) Fail("unterminated string");
    if (s_[pos_++] == '"') return;
    if (pos_ >= s_.size()) Fail("unterminated escape");
    const char e = s_[pos_++];
    switch (e) {
      case '"': out->push_back('"'); break;
      case '\\': out->push_back('\\'); break;
      case '/': out->push_back('/'); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case 'u': {
        uint32_t cp = Hex4();
        if (cp >= 0xD800 && cp < 0xDC00) {  // high surrogate: a low one must follow
          if (pos_ + 2 > s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u') Fail("unpaired surrogate in \\u escape");
          pos_ += 2;
          const uint32_t low = Hex4();
          if (low < 0xDC00 || low >= 0xE000) Fail("unpaired surrogate in \\u escape");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp < 0xE000) {
          Fail("unpaired surrogate in \\u escape");
        }
        AppendUtf8(cp, out);
        break;
      }
      default:
        --pos_;
        Fail("bad escape in string");
    }
  }
}

void Reader::Literal(std::string_view word) {
  if (s_.substr(pos_, word.size()) != word) Fail("unexpected character");
  pos_ += word.size();
}

void Reader::Number() {
  auto digits = [&] {
    const size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    if (pos_ == start) Fail("bad number");
  };
  if (s_[pos_] == '-') ++pos_;
  if (pos_ < s_.size() && s_[pos_] == '0') ++pos_;
  else digits();
  if (pos_ < s_.size() && s_[pos_] == '.') ++pos_, digits();
  if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
    ++pos_;
    if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
    digits();
  }
}

uint64_t Reader::Unsigned() {
  SkipSpace();
  const size_t start = pos_;
  uint64_t v = 0;
  while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
    if (v > (uint64_t{1} << 63) / 10) Fail("integer too large");
    v = v * 10 + static_cast<uint64_t>(s_[pos_++] - '0');
  }
  if (pos_ == start) Fail("expected a non-negative integer");
  if (pos_ - start > 1 && s_[start] == '0') Fail("integer with a leading zero");
  if (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E')) Fail("expected an integer");
  if (v >= (uint64_t{1} << 63)) Fail("integer too large");
  return v;
}

void Reader::SkipValue(int depth) {
  if (depth > kMaxDepth) Fail("nested too deeply");
  std::string scratch;
  switch (Peek()) {
    case '"': String(&scratch); return;
    case '{': Object([&](const std::string&) { SkipValue(depth + 1); }); return;
    case '[': Array([&](int64_t) { SkipValue(depth + 1); }); return;
    case 't': Literal("true"); return;
    case 'f': Literal("false"); return;
    case 'n': Literal("null"); return;
    case 0: Fail("unexpected end, expected a value");
    default:
      if (s_[pos_] == '-' || (s_[pos_] >= '0' && s_[pos_] <= '9')) return Number();
      Fail("unexpected character");
  }
}

void Reader::Sequence(char open, char close, const std::function<void(int64_t index)>& item) {
  Expect(open);
  if (Peek() == close) {
    ++pos_;
    return;
  }
  const std::string expected = std::string("expected ',' or '") + close + "'";
  for (int64_t i = 0;; ++i) {
    item(i);
    const char c = Peek();
    if (c == 0) Fail("unexpected end, " + expected);
    if (c == close) return void(++pos_);
    if (c != ',') Fail(expected);
    ++pos_;
  }
}

void Reader::Object(const std::function<void(const std::string& key)>& member) {
  std::string key;
  Sequence('{', '}', [&](int64_t) {
    if (Peek() != '"') Fail("expected a member name");
    String(&key);
    Expect(':');
    member(key);
  });
}

void Reader::Array(const std::function<void(int64_t index)>& element) { Sequence('[', ']', element); }

}  // namespace tinylm::json
