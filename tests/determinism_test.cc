// Same seed and thread count => bit-identical training losses; primitives are created once.
#include <gtest/gtest.h>

#include "layer_harness.h"

#include <cstring>

#include "tinylm/model/model.h"
#include "tinylm/tensors/rng.h"

namespace tinylm::testing {
namespace {

proto::TransformerConfig SmallConfig() {
  proto::TransformerConfig c;
  c.set_vocab_size(64);
  c.set_d_model(32);
  c.set_layers(2);
  c.set_heads(4);
  c.set_kv_heads(2);
  c.set_ffn_hidden(48);
  c.set_qk_norm(true);
  c.set_tie_embeddings(true);
  c.set_dropout(0.1f);
  return c;
}

Batch MakeBatch(int64_t b, int64_t t, uint64_t step) { return RandomTokenBatch(b, t, 64, 5, step); }

std::vector<double> Train(int threads, int steps, PrimitiveCache** cache_out = nullptr,
                          size_t* cache_size_after_first = nullptr) {
  static std::unique_ptr<Context> keep;
  keep = std::make_unique<Context>(threads, 77);
  Context& ctx = *keep;
  auto model = BuildTransformer(SmallConfig());
  model->store().Allocate(77);
  AdamW opt;
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    ctx.set_step(s);
    losses.push_back(TrainStep(ctx, *model, opt, MakeBatch(3, 16, s % 2), 3e-3f, 1.0).loss);
    if (s == 0 && cache_size_after_first) *cache_size_after_first = ctx.cache().size();
  }
  if (cache_out) *cache_out = &ctx.cache();
  return losses;
}

TEST(Determinism, SameSeedSameThreadsBitIdenticalLosses) {
  for (int threads : {1, 2}) {
    const std::vector<double> a = Train(threads, 8), b = Train(threads, 8);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(double))) << threads << " threads";
    EXPECT_LT(a.back(), a.front());  // and it learns
  }
}

TEST(PrimitiveCache, NoPrimitiveCreatedAfterTheFirstStep) {
  PrimitiveCache* cache = nullptr;
  size_t after_first = 0;
  Train(2, 5, &cache, &after_first);
  EXPECT_GT(after_first, 0u);
  EXPECT_EQ(cache->size(), after_first);
  EXPECT_GT(cache->hits(), 4 * cache->misses());
}

TEST(Model, ParameterCountIsExact) {
  proto::TransformerConfig c;
  c.set_tie_embeddings(true);  // defaults: d128, L5, H4, SwiGLU 336, vocab 256
  EXPECT_EQ(BuildTransformer(c)->NumParams(), 1006976);
  c.set_qk_norm(true);
  EXPECT_EQ(BuildTransformer(c)->NumParams(), 1006976 + 5 * 2 * 32);
  c.set_qk_norm(false);
  c.set_tie_embeddings(false);
  EXPECT_EQ(BuildTransformer(c)->NumParams(), 1006976 + 256 * 128);
  c.set_tie_embeddings(true);
  c.set_unique_layers(1);  // one block's weights reused 5 times
  EXPECT_EQ(BuildTransformer(c)->NumParams(), 256 * 128 + 194816 + 128);
}

TEST(Model, DecodeStepsMatchFullForward) {
  Context ctx(2, 1);
  auto model = BuildTransformer(SmallConfig());
  model->store().Allocate(3);
  Batch b = MakeBatch(2, 12, 0);
  const Tensor full = model->Forward(ctx, b.inputs, Mode::kEval).Clone();
  auto state = model->net().NewDecodeState(2, 12);
  const int64_t v = 64;
  for (int64_t pos = 0; pos < 12; ++pos) {
    Tensor tok = Tensor::Empty({2, 1}, DType::kS32);
    tok.s32()[0] = b.inputs.s32()[pos];
    tok.s32()[1] = b.inputs.s32()[12 + pos];
    const Tensor step = model->net().Step(ctx, tok, pos, state.get());
    for (int64_t bi = 0; bi < 2; ++bi)
      for (int64_t j = 0; j < v; ++j)
        EXPECT_NEAR(step.f32()[bi * v + j], full.f32()[(bi * 12 + pos) * v + j], 2e-5);
  }
}

}  // namespace
}  // namespace tinylm::testing
