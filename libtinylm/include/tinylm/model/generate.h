// Sampling from a model with each layer's incremental decode state (KV cache, running sums):
// the prompt is fed once, then one token per step, so generation costs one position per token.
#pragma once
#include <string>
#include <vector>

#include "tinylm/model/model.h"
#include "tinylm/tensors/rng.h"
#include "tinylm/data/tokenizer.h"

namespace tinylm {

struct SamplingOptions {
  float temperature = 0.8f;  // <= 0: greedy
  int top_k = 40;            // 0: no limit
  float top_p = 1.0f;        // nucleus; 1: no limit
  uint64_t seed = 1;
  int max_tokens = 200;
  bool stop_at_end_of_text = true;
};

// Picks the next token from logits [V] (deterministic given rng state).
int32_t SampleToken(const float* logits, int64_t vocab, const SamplingOptions& opt, Rng* rng);

// Continues `prompt_ids`; returns only the generated ids. Stops at max_tokens, at the model's
// context, or (if asked) at the end-of-text / end special token. With a grouped tokenizer (byte
// pooling) it works chunk by chunk: max_tokens counts chunks, and the ids come in whole chunks.
std::vector<int32_t> Generate(Context& ctx, LanguageModel& model, const Tokenizer& tok,
                              const std::vector<int32_t>& prompt_ids, const SamplingOptions& opt);

// Share of word n-grams (n = 3) in `text` that already occurred earlier in it: 0 for text
// without repetition, approaching 1 when a model loops.
double RepetitionShare(const std::string& text, int n = 3);

}  // namespace tinylm
