// Documents from the five input formats, streamed one at a time from a file's bytes (usually a
// mapping), so that parsing a corpus takes memory for one document, not for the corpus.
#include <absl/strings/str_cat.h>

#include <algorithm>
#include <stdexcept>

#include "json_reader.h"
#include "tinylm/data/data.h"
#include "tinylm/data/mapped_file.h"

namespace tinylm {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Without leading and trailing ASCII whitespace (as absl::StripAsciiWhitespace, on std views).
std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// 1-based line of byte `offset`, for error messages (only computed when there is an error).
int64_t LineOf(std::string_view bytes, size_t offset) {
  return 1 + std::count(bytes.begin(), bytes.begin() + std::min(offset, bytes.size()), '\n');
}

// Passes on how far parsing has got, in steps of kConsumedStep bytes.
class Consumed {
 public:
  explicit Consumed(const ConsumedFn& fn) : fn_(fn) {}
  void At(size_t offset) {
    if (!fn_ || offset < next_) return;
    fn_(offset);
    next_ = offset + kConsumedStep;
  }

 private:
  static constexpr size_t kConsumedStep = size_t{64} << 20;
  const ConsumedFn& fn_;
  size_t next_ = kConsumedStep;
};

// Emits `text` trimmed, unless empty. Returns false when the consumer wants no more.
bool EmitTrimmed(std::string_view text, const DocumentFn& fn) {
  text = Trim(text);
  if (text.empty()) return true;
  return fn(Document{"", std::string(text)});
}

// Documents separated by lines consisting only of `separator` (after trimming), or by blank
// lines when `separator` is empty.
void SplitLines(std::string_view bytes, std::string_view separator, const DocumentFn& fn, Consumed& consumed) {
  size_t start = 0, pos = 0;
  while (pos <= bytes.size()) {
    consumed.At(start);
    const size_t nl = bytes.find('\n', pos);
    const size_t eol = nl == std::string_view::npos ? bytes.size() : nl;
    const std::string_view line = Trim(bytes.substr(pos, eol - pos));
    if (separator.empty() ? line.empty() : line == separator) {
      if (!EmitTrimmed(bytes.substr(start, pos - start), fn)) return;
      start = eol + 1;
    }
    pos = eol + 1;
  }
  if (start < bytes.size()) EmitTrimmed(bytes.substr(start), fn);
}

[[noreturn]] void JsonFail(const std::string& where, const json::Error& e) {
  throw std::runtime_error(where + ": invalid JSON: " + e.what());
}

// A top-level array of strings, or an object whose member `field` is one.
void JsonArray(const proto::DataSource& src, std::string_view bytes, const std::string& path, const DocumentFn& fn,
               Consumed& consumed) {
  json::Reader r(bytes);
  struct Enough {};  // the consumer wants no more documents: stop reading
  std::string text;
  auto array = [&] {
    if (r.Peek() != '[') throw std::runtime_error(path + ": expected a JSON array of strings");
    r.Array([&](int64_t i) {
      if (r.Peek() != '"') {
        r.SkipValue(1);  // malformed JSON is reported as such, with its line
        throw std::runtime_error(absl::StrCat(path, ": array element ", i, " is not a string"));
      }
      r.String(&text);
      if (!EmitTrimmed(text, fn)) throw Enough{};
      consumed.At(r.offset());
    });
  };
  try {
    if (r.Peek() == '{') {
      bool found = false;
      r.Object([&](const std::string& key) {
        if (key == src.field() && !found) {
          found = true;
          array();
        } else {
          r.SkipValue(1);
        }
      });
      if (!found) throw std::runtime_error(path + ": no member \"" + src.field() + "\" holding the array");
    } else {
      array();
    }
    if (!r.AtEnd()) r.Fail("text after the top-level value");
  } catch (const json::Error& e) {
    JsonFail(absl::StrCat(path, ":", LineOf(bytes, e.offset)), e);
  } catch (const Enough&) {
  }
}

// One JSON object per line; the members named by the source are strings.
void JsonLines(const proto::DataSource& src, std::string_view bytes, const std::string& path, const DocumentFn& fn,
               Consumed& consumed) {
  const bool jsonl = src.format() == proto::DataSource::JSONL;
  const bool split = !jsonl && src.has_separator();
  // The members to read, in order: the text field, or prompt and response.
  std::vector<std::string> wanted = jsonl || split ? std::vector<std::string>{src.field()}
                                                   : std::vector<std::string>{src.prompt_field(), src.response_field()};
  std::vector<std::string> values(wanted.size());
  std::vector<int> state(wanted.size());  // 0 absent, 1 string, 2 another type
  size_t pos = 0;
  for (int64_t n = 1; pos < bytes.size(); ++n) {
    consumed.At(pos);
    const size_t nl = bytes.find('\n', pos);
    const std::string_view line = bytes.substr(pos, (nl == std::string_view::npos ? bytes.size() : nl) - pos);
    pos = nl == std::string_view::npos ? bytes.size() : nl + 1;
    if (Trim(line).empty()) continue;
    const std::string where = absl::StrCat(path, ":", n);
    std::fill(state.begin(), state.end(), 0);
    json::Reader r(line);
    try {
      if (r.Peek() != '{') throw std::runtime_error(where + ": expected a JSON object");
      r.Object([&](const std::string& key) {
        for (size_t k = 0; k < wanted.size(); ++k) {
          if (key != wanted[k]) continue;
          if (r.Peek() == '"') {
            r.String(&values[k]);
            state[k] = 1;
          } else {
            r.SkipValue(1);
            state[k] = 2;
          }
          return;
        }
        r.SkipValue(1);
      });
      if (!r.AtEnd()) r.Fail("text after the object");
    } catch (const json::Error& e) {
      JsonFail(where, e);
    }
    for (size_t k = 0; k < wanted.size(); ++k) {
      if (state[k] == 0) throw std::runtime_error(where + ": no member \"" + wanted[k] + "\"");
      if (state[k] == 2) throw std::runtime_error(where + ": member \"" + wanted[k] + "\" is not a string");
    }
    bool more = true;
    if (jsonl) {
      more = EmitTrimmed(values[0], fn);
    } else {
      std::string_view prompt, response;
      if (split) {
        const size_t at = values[0].find(src.separator());
        if (at == std::string::npos)
          throw std::runtime_error(where + ": member \"" + src.field() + "\" has no separator \"" + src.separator() + "\"");
        prompt = std::string_view(values[0]).substr(0, at);
        response = std::string_view(values[0]).substr(at + src.separator().size());
      } else {
        prompt = values[0];
        response = values[1];
      }
      prompt = Trim(prompt);
      response = Trim(response);
      if (!prompt.empty() && !response.empty()) more = fn(Document{std::string(prompt), std::string(response)});
    }
    if (!more) return;
  }
}

}  // namespace

void ForEachDocument(const proto::DataSource& src, std::string_view bytes, const std::string& path, const DocumentFn& fn,
                     const ConsumedFn& consumed_fn) {
  Consumed consumed(consumed_fn);
  // max_documents: the first ones only.
  int64_t count = 0;
  const int64_t limit = src.max_documents() > 0 ? src.max_documents() : INT64_MAX;
  if (limit == 0) return;
  const DocumentFn limited = [&](Document&& d) { return fn(std::move(d)) && ++count < limit; };
  switch (src.format()) {
    case proto::DataSource::TEXT_EOT: return SplitLines(bytes, "<|endoftext|>", limited, consumed);
    case proto::DataSource::BLANK_LINES: return SplitLines(bytes, "", limited, consumed);
    case proto::DataSource::JSON_ARRAY: return JsonArray(src, bytes, path, limited, consumed);
    case proto::DataSource::JSONL:
    case proto::DataSource::PROMPT_RESPONSE: return JsonLines(src, bytes, path, limited, consumed);
  }
  throw std::runtime_error(absl::StrCat(path, ": unknown data format ", static_cast<int>(src.format())));
}

std::vector<Document> ParseDocuments(const proto::DataSource& src, std::string_view bytes, const std::string& path) {
  std::vector<Document> docs;
  ForEachDocument(src, bytes, path, [&](Document&& d) {
    docs.push_back(std::move(d));
    return true;
  });
  return docs;
}

std::vector<Document> LoadDocuments(const proto::DataSource& src, const std::string& data_dir) {
  const std::string path = data_dir + "/" + src.path();
  const auto file = MappedFile::Open(path);
  if (file->bytes().empty()) throw std::runtime_error(path + ": file is empty");
  return ParseDocuments(src, file->bytes(), path);
}

// Lines of 60+ characters (trimmed): long enough that sharing one means sharing text, not a
// stock phrase. Lines, not blank-line paragraphs, because some sources break paragraphs with
// a single newline. Kept as 64-bit hashes, so the held-out side costs 8 bytes a line.
void OverlapFilter::ForEachLongLine(const std::string& text, const std::function<void(uint64_t)>& fn) {
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    const std::string_view line = Trim(rest.substr(0, nl));
    if (line.size() >= 60) fn(ContentHash(line));
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
}

void OverlapFilter::HoldOut(const Document& d) {
  ForEachLongLine(d.text, [&](uint64_t h) { held_out_.insert(h); });
}

bool OverlapFilter::Overlaps(const Document& d) const {
  bool overlap = false;
  ForEachLongLine(d.text, [&](uint64_t h) { overlap = overlap || held_out_.contains(h); });
  return overlap;
}

int64_t DropOverlap(std::vector<Document>* docs, const std::vector<Document>& held_out) {
  OverlapFilter filter;
  for (const Document& d : held_out) filter.HoldOut(d);
  const size_t before = docs->size();
  docs->erase(std::remove_if(docs->begin(), docs->end(), [&](const Document& d) { return filter.Overlaps(d); }),
              docs->end());
  return static_cast<int64_t>(before - docs->size());
}

}  // namespace tinylm
