#include "tinylm/model/generate.h"

#include <absl/strings/str_join.h>
#include <absl/strings/str_split.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <set>

namespace tinylm {

int32_t SampleToken(const float* logits, int64_t vocab, const SamplingOptions& opt, Rng* rng) {
  if (opt.temperature <= 0.0f)
    return static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits);
  std::vector<int32_t> idx(vocab);
  std::iota(idx.begin(), idx.end(), 0);
  // The k best by logit, ties by id: a deterministic order (only those k need sorting).
  const int64_t k = opt.top_k > 0 ? std::min<int64_t>(opt.top_k, vocab) : vocab;
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  std::vector<double> p(k);
  const double mx = logits[idx[0]];
  double sum = 0;
  for (int64_t i = 0; i < k; ++i) sum += (p[i] = std::exp((logits[idx[i]] - mx) / opt.temperature));
  int64_t keep = k;
  if (opt.top_p < 1.0f) {
    double cum = 0;
    for (int64_t i = 0; i < k; ++i) {
      cum += p[i] / sum;
      if (cum >= opt.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double total = 0;
  for (int64_t i = 0; i < keep; ++i) total += p[i];
  double u = rng->NextUniform() * total;
  for (int64_t i = 0; i < keep; ++i) {
    u -= p[i];
    if (u < 0) return idx[i];
  }
  return idx[keep - 1];
}

namespace {

// A grouped tokenizer's generation (byte pooling): each step samples all ids of the next chunk
// at once from its position's rows of logits (the decoder predicts them in parallel), keeps them
// up to the first padding, and feeds the chunk back as one position. The first id may not be
// padding (an empty chunk would stall); an end-of-text chunk stops when asked to.
std::vector<int32_t> GenerateChunks(Context& ctx, LanguageModel& model, const Tokenizer& tok,
                                    std::vector<int32_t> prompt, const SamplingOptions& opt) {
  const int64_t g = tok.group_size(), ctx_len = model.context(), vocab = model.vocab_size();
  const int32_t pad = tok.SpecialId("<|pad|>"), stop1 = tok.SpecialId("<|endoftext|>"), stop2 = tok.SpecialId("<|end|>");
  if (prompt.empty()) prompt = SpecialGroup(tok, "<|endoftext|>");
  if (prompt.empty() || static_cast<int64_t>(prompt.size()) % g != 0)
    throw std::invalid_argument("a prompt for a grouped tokenizer must be whole chunks");
  const int64_t max_prompt = (ctx_len - 1) * g;
  if (static_cast<int64_t>(prompt.size()) > max_prompt) prompt.erase(prompt.begin(), prompt.end() - max_prompt);
  auto state = model.net().NewDecodeState(1, ctx_len);
  Tensor x = Tensor::Empty({1, static_cast<int64_t>(prompt.size())}, DType::kS32);
  std::copy(prompt.begin(), prompt.end(), x.s32());
  Tensor logits = model.net().Step(ctx, x, 0, state.get());
  int64_t pos = static_cast<int64_t>(prompt.size()) / g;
  Rng rng{opt.seed, 0x5a4d, 0};
  std::vector<int32_t> out;
  std::vector<float> first(vocab);
  Tensor chunk = Tensor::Empty({1, g}, DType::kS32);
  for (int produced = 0; produced < opt.max_tokens && pos < ctx_len; ++produced) {
    const float* rows = logits.f32() + (logits.dim(1) - g) * vocab;  // the last position's g rows
    bool ended = false;
    for (int64_t k = 0; k < g; ++k) {
      int32_t id = pad;
      if (!ended) {
        if (k == 0) {
          std::copy(rows, rows + vocab, first.begin());
          if (pad >= 0) first[pad] = -INFINITY;
          id = SampleToken(first.data(), vocab, opt, &rng);
        } else {
          id = SampleToken(rows + k * vocab, vocab, opt, &rng);
        }
        ended = id == pad || id == stop1 || id == stop2;
        if (k > 0 && id != pad && ended) id = pad;  // a special token only starts a chunk
      }
      chunk.s32()[k] = id;
    }
    if (opt.stop_at_end_of_text && (chunk.s32()[0] == stop1 || chunk.s32()[0] == stop2)) break;
    out.insert(out.end(), chunk.s32(), chunk.s32() + g);
    logits = model.net().Step(ctx, chunk, pos++, state.get());
  }
  return out;
}

}  // namespace

std::vector<int32_t> Generate(Context& team, LanguageModel& model, const Tokenizer& tok,
                              const std::vector<int32_t>& prompt_ids, const SamplingOptions& opt) {
  // A batch-1 decode step is a few hundred microseconds of work in dozens of tiny kernels: a
  // thread team only adds barriers, and beside another busy process each barrier can wait for
  // a descheduled thread (measured: 255 tokens took 31 s beside a training run with 2 threads,
  // 0.2 s with one). One thread, always.
  Context& ctx = team.Serial();
  OmpThreadsScope one_thread(ctx.threads());
  if (tok.group_size() > 1) return GenerateChunks(ctx, model, tok, prompt_ids, opt);
  const int64_t ctx_len = model.context(), vocab = model.vocab_size();
  std::vector<int32_t> prompt = prompt_ids;
  if (prompt.empty()) {
    const int32_t eot = tok.SpecialId("<|endoftext|>");
    prompt.push_back(eot >= 0 ? eot : 0);
  }
  if (static_cast<int64_t>(prompt.size()) >= ctx_len)
    prompt.erase(prompt.begin(), prompt.end() - (ctx_len - 1));
  auto state = model.net().NewDecodeState(1, ctx_len);
  Tensor x = Tensor::Empty({1, static_cast<int64_t>(prompt.size())}, DType::kS32);
  std::copy(prompt.begin(), prompt.end(), x.s32());
  Tensor logits = model.net().Step(ctx, x, 0, state.get());
  int64_t pos = static_cast<int64_t>(prompt.size());
  Rng rng{opt.seed, 0x5a4d, 0};
  const int32_t stop1 = tok.SpecialId("<|endoftext|>"), stop2 = tok.SpecialId("<|end|>");
  std::vector<int32_t> out;
  Tensor one = Tensor::Empty({1, 1}, DType::kS32);
  while (static_cast<int>(out.size()) < opt.max_tokens && pos < ctx_len) {
    const float* last = logits.f32() + (logits.dim(1) - 1) * vocab;
    const int32_t next = SampleToken(last, vocab, opt, &rng);
    if (opt.stop_at_end_of_text && (next == stop1 || next == stop2)) break;
    out.push_back(next);
    one.s32()[0] = next;
    logits = model.net().Step(ctx, one, pos++, state.get());
  }
  return out;
}

double RepetitionShare(const std::string& text, int n) {
  std::vector<std::string> words = absl::StrSplit(text, absl::ByAnyChar(" \n\t"), absl::SkipEmpty());
  if (static_cast<int>(words.size()) < n) return 0.0;
  std::set<std::string> seen;
  int64_t repeated = 0, total = 0;
  for (size_t i = 0; i + n <= words.size(); ++i) {
    const std::string gram = absl::StrJoin(words.begin() + i, words.begin() + i + n, " ");
    repeated += !seen.insert(gram).second;
    ++total;
  }
  return static_cast<double>(repeated) / total;
}

}  // namespace tinylm
