#include "tinylm/data/data.h"

#include <absl/container/flat_hash_set.h>
#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_split.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#ifndef TINYLM_SOURCE_DIR
#define TINYLM_SOURCE_DIR "."
#endif

namespace tinylm {

std::string ResolveDataDir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("TINYLM_DATA_DIR"); env && *env) return env;
  return std::string(TINYLM_SOURCE_DIR) + "/../shared/data";
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open (set --data-dir or TINYLM_DATA_DIR?)");
  std::ostringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  if (s.empty()) throw std::runtime_error(path + ": file is empty");
  return s;
}

namespace {

void AddTrimmed(std::vector<Document>* docs, absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (!text.empty()) docs->push_back({"", std::string(text)});
}

// Splits on lines consisting only of `separator` (after trimming), or on blank lines when
// `separator` is empty.
std::vector<Document> SplitLines(const std::string& bytes, const std::string& separator) {
  std::vector<Document> docs;
  size_t start = 0, pos = 0;
  while (pos <= bytes.size()) {
    const size_t eol = std::min(bytes.find('\n', pos), bytes.size());
    const absl::string_view line = absl::StripAsciiWhitespace(absl::string_view(bytes).substr(pos, eol - pos));
    if (separator.empty() ? line.empty() : line == separator) {
      AddTrimmed(&docs, absl::string_view(bytes).substr(start, pos - start));
      start = eol + 1;
    }
    pos = eol + 1;
  }
  if (start < bytes.size()) AddTrimmed(&docs, absl::string_view(bytes).substr(start));
  return docs;
}

google::protobuf::Value ParseJson(const std::string& text, const std::string& where) {
  google::protobuf::Value v;
  const auto status = google::protobuf::util::JsonStringToMessage(text, &v);
  if (!status.ok()) throw std::runtime_error(where + ": invalid JSON: " + std::string(status.message()));
  return v;
}

std::string StringMember(const google::protobuf::Value& v, const std::string& field, const std::string& where) {
  if (v.kind_case() != google::protobuf::Value::kStructValue)
    throw std::runtime_error(where + ": expected a JSON object");
  const auto& f = v.struct_value().fields();
  auto it = f.find(field);
  if (it == f.end()) throw std::runtime_error(where + ": no member \"" + field + "\"");
  if (it->second.kind_case() != google::protobuf::Value::kStringValue)
    throw std::runtime_error(where + ": member \"" + field + "\" is not a string");
  return it->second.string_value();
}

}  // namespace

std::vector<Document> LoadDocuments(const proto::DataSource& src, const std::string& data_dir) {
  const std::string path = data_dir + "/" + src.path();
  return ParseDocuments(src, ReadFileBytes(path), path);
}

std::vector<Document> ParseDocuments(const proto::DataSource& src, const std::string& bytes, const std::string& path) {
  std::vector<Document> docs;
  switch (src.format()) {
    case proto::DataSource::TEXT_EOT:
      docs = SplitLines(bytes, "<|endoftext|>");
      break;
    case proto::DataSource::BLANK_LINES:
      docs = SplitLines(bytes, "");
      break;
    case proto::DataSource::JSON_ARRAY: {
      google::protobuf::Value v = ParseJson(bytes, path);
      if (v.kind_case() == google::protobuf::Value::kStructValue) {
        auto it = v.struct_value().fields().find(src.field());
        if (it == v.struct_value().fields().end())
          throw std::runtime_error(path + ": no member \"" + src.field() + "\" holding the array");
        google::protobuf::Value inner = it->second;
        v = inner;
      }
      if (v.kind_case() != google::protobuf::Value::kListValue)
        throw std::runtime_error(path + ": expected a JSON array of strings");
      int64_t i = 0;
      for (const auto& e : v.list_value().values()) {
        if (e.kind_case() != google::protobuf::Value::kStringValue)
          throw std::runtime_error(absl::StrCat(path, ": array element ", i, " is not a string"));
        AddTrimmed(&docs, e.string_value());
        ++i;
      }
      break;
    }
    case proto::DataSource::JSONL:
    case proto::DataSource::PROMPT_RESPONSE: {
      std::istringstream in(bytes);
      std::string line;
      for (int64_t n = 1; std::getline(in, line); ++n) {
        if (absl::StripAsciiWhitespace(line).empty()) continue;
        const std::string where = absl::StrCat(path, ":", n);
        const google::protobuf::Value v = ParseJson(line, where);
        if (src.format() == proto::DataSource::JSONL) {
          AddTrimmed(&docs, StringMember(v, src.field(), where));
        } else if (src.has_separator()) {
          const std::string whole = StringMember(v, src.field(), where);
          const size_t at = whole.find(src.separator());
          if (at == std::string::npos)
            throw std::runtime_error(where + ": member \"" + src.field() + "\" has no separator \"" + src.separator() + "\"");
          Document d{std::string(absl::StripAsciiWhitespace(whole.substr(0, at))),
                     std::string(absl::StripAsciiWhitespace(whole.substr(at + src.separator().size())))};
          if (!d.prompt.empty() && !d.text.empty()) docs.push_back(std::move(d));
        } else {
          Document d{std::string(absl::StripAsciiWhitespace(StringMember(v, src.prompt_field(), where))),
                     std::string(absl::StripAsciiWhitespace(StringMember(v, src.response_field(), where)))};
          if (!d.prompt.empty() && !d.text.empty()) docs.push_back(std::move(d));
        }
      }
      break;
    }
  }
  if (src.max_documents() > 0 && static_cast<int64_t>(docs.size()) > src.max_documents())
    docs.resize(src.max_documents());
  return docs;
}

namespace {
// Lines of 60+ characters (trimmed): long enough that sharing one means sharing text, not a
// stock phrase. Lines, not blank-line paragraphs, because some sources break paragraphs with
// a single newline.
template <typename Fn>
void ForEachParagraph(const std::string& text, Fn fn) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.size() >= 60) fn(std::string(line));
  }
}
}  // namespace

int64_t DropOverlap(std::vector<Document>* docs, const std::vector<Document>& held_out) {
  absl::flat_hash_set<std::string> seen;
  for (const Document& d : held_out) ForEachParagraph(d.text, [&](const std::string& p) { seen.insert(p); });
  const size_t before = docs->size();
  std::vector<Document> kept;
  for (Document& d : *docs) {
    bool overlap = false;
    ForEachParagraph(d.text, [&](const std::string& p) { overlap = overlap || seen.count(p); });
    if (!overlap) kept.push_back(std::move(d));
  }
  *docs = std::move(kept);
  return static_cast<int64_t>(before - docs->size());
}

TokenStream Tokenize(const std::vector<Document>& docs, const Tokenizer& tok) {
  TokenStream s;
  s.group = tok.group_size();
  const std::vector<int32_t> eot = SpecialGroup(tok, "<|endoftext|>");
  for (const Document& d : docs) {
    const std::string text = d.prompt.empty() ? d.text : d.prompt + "\n" + d.text;
    const std::vector<int32_t> ids = tok.Encode(text);
    if (static_cast<int64_t>(ids.size()) % s.group != 0)
      throw std::logic_error(tok.type() + " tokenizer returned a partial group of ids");
    s.tokens.insert(s.tokens.end(), ids.begin(), ids.end());
    s.text_bytes += static_cast<int64_t>(text.size());
    s.tokens.insert(s.tokens.end(), eot.begin(), eot.end());
  }
  return s;
}

WindowSampler::WindowSampler(const TokenStream* stream, int64_t seq) : stream_(stream), seq_(seq) {
  if (seq % stream->group != 0)
    throw std::runtime_error(absl::StrCat("sequence length ", seq, " is not a multiple of the tokenizer's ",
                                          stream->group, " ids per position"));
  if (static_cast<int64_t>(stream->tokens.size()) < seq + stream->group)
    throw std::runtime_error(absl::StrCat("corpus of ", stream->tokens.size(),
                                          " tokens is shorter than one sequence of ", seq + stream->group));
}

void WindowSampler::Sample(uint64_t seed, uint64_t stream_id, uint64_t step, Batch* out) const {
  EnsureShape(out->inputs, {batch_, seq_}, DType::kS32);
  EnsureShape(out->targets, {batch_, seq_}, DType::kS32);
  const int64_t g = stream_->group;
  // Window starts at group boundaries 0, g, ..., size - seq - g (group 1: 0 .. size - seq - 1).
  const uint64_t span = (stream_->tokens.size() - seq_) / g;
  for (int64_t r = 0; r < batch_; ++r) {
    const int32_t* p = stream_->tokens.data() + CounterBits(seed, stream_id, step * batch_ + r) % span * g;
    for (int64_t t = 0; t < seq_; ++t) {
      out->inputs.s32()[r * seq_ + t] = p[t];
      out->targets.s32()[r * seq_ + t] = p[t + g];
    }
  }
  out->weights = Tensor();
}

ChatExamples::ChatExamples(const std::vector<Document>& records, const Tokenizer& tok, int64_t seq) : seq_(seq) {
  const int32_t user = tok.SpecialId("<|user|>"), assistant = tok.SpecialId("<|assistant|>"),
                end = tok.SpecialId("<|end|>");
  if (user < 0 || assistant < 0 || end < 0)
    throw std::runtime_error("instruction tuning needs the special tokens <|user|>, <|assistant|> and <|end|> "
                             "in the tokenizer");
  for (const Document& d : records) {
    Example e;
    e.ids.push_back(user);
    // A prompt keeps at most half the window (its end, nearest the response), so every example
    // trains on response tokens however long the prompt.
    std::vector<int32_t> prompt = tok.Encode(d.prompt);
    const size_t max_prompt = std::max<int64_t>(1, seq / 2 - 2);
    if (prompt.size() > max_prompt) prompt.erase(prompt.begin(), prompt.end() - max_prompt);
    e.ids.insert(e.ids.end(), prompt.begin(), prompt.end());
    e.ids.push_back(assistant);
    const size_t response_start = e.ids.size();
    for (int32_t id : tok.Encode(d.text)) e.ids.push_back(id);
    e.ids.push_back(end);
    e.ids.resize(std::min<size_t>(e.ids.size(), seq + 1));
    e.weights.assign(seq, 0.0f);
    for (size_t t = 0; t + 1 < e.ids.size(); ++t) e.weights[t] = t + 1 >= response_start ? 1.0f : 0.0f;
    while (static_cast<int64_t>(e.ids.size()) < seq + 1) e.ids.push_back(end);  // padding, weight 0
    for (float w : e.weights) response_tokens_ += w > 0.0f;
    examples_.push_back(std::move(e));
  }
}

void ChatExamples::Fill(int64_t example, int64_t row, Batch* out) const {
  const Example& e = examples_[example];
  for (int64_t t = 0; t < seq_; ++t) {
    out->inputs.s32()[row * seq_ + t] = e.ids[t];
    out->targets.s32()[row * seq_ + t] = e.ids[t + 1];
    out->weights.f32()[row * seq_ + t] = e.weights[t];
  }
}

void ChatExamples::Sample(uint64_t seed, uint64_t stream_id, uint64_t step, int64_t batch, Batch* out) const {
  EnsureShape(out->inputs, {batch, seq_}, DType::kS32);
  EnsureShape(out->targets, {batch, seq_}, DType::kS32);
  EnsureShape(out->weights, {batch, seq_});
  for (int64_t r = 0; r < batch; ++r) Fill(CounterBits(seed, stream_id, step * batch + r) % examples_.size(), r, out);
}

}  // namespace tinylm
