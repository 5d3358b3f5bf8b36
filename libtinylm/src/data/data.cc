#include "tinylm/data/data.h"

#include <absl/strings/str_cat.h>

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

int64_t EncodeDocument(const Document& d, const Tokenizer& tok, const std::vector<int32_t>& eot, std::vector<int32_t>* ids) {
  const std::string text = d.prompt.empty() ? d.text : d.prompt + "\n" + d.text;
  *ids = tok.Encode(text);
  if (static_cast<int64_t>(ids->size()) % tok.group_size() != 0)
    throw std::logic_error(tok.type() + " tokenizer returned a partial group of ids");
  ids->insert(ids->end(), eot.begin(), eot.end());
  return static_cast<int64_t>(text.size());
}

TokenStream Tokenize(const std::vector<Document>& docs, const Tokenizer& tok) {
  TokenStream s;
  s.group = tok.group_size();
  const std::vector<int32_t> eot = SpecialGroup(tok, "<|endoftext|>");
  std::vector<int32_t> all, ids;
  for (const Document& d : docs) {
    s.text_bytes += EncodeDocument(d, tok, eot, &ids);
    all.insert(all.end(), ids.begin(), ids.end());
  }
  s.tokens = TokenArray(std::move(all));
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
    const int64_t at = static_cast<int64_t>(CounterBits(seed, stream_id, step * batch_ + r) % span * g);
    stream_->tokens.Read(at, seq_, out->inputs.s32() + r * seq_);
    stream_->tokens.Read(at + g, seq_, out->targets.s32() + r * seq_);
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
