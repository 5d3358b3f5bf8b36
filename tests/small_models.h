// Small transformers for tests that need a real model but not a particular one.
#pragma once
#include <memory>

#include "tinylm/model/model.h"

namespace tinylm::testing {

// A pre-norm transformer with `heads` heads, an FFN of `ffn` and parameters allocated from `seed`.
inline std::unique_ptr<LanguageModel> SmallTransformer(int vocab, int d_model, int layers, int heads, int ffn,
                                                       int context, uint64_t seed) {
  proto::TransformerConfig c;
  c.set_vocab_size(vocab);
  c.set_d_model(d_model);
  c.set_layers(layers);
  c.set_heads(heads);
  c.set_ffn_hidden(ffn);
  c.set_context(context);
  auto m = BuildTransformer(c);
  m->store().Allocate(seed);
  return m;
}

}  // namespace tinylm::testing
