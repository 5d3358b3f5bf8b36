// Memory: layer outputs and gradients come from the context's TensorPool, so a training step
// holds what backward needs plus the gradients in flight, a repeated step allocates nothing, a
// finished step leaves nothing held, and an evaluation forward needs a fraction of a step.
#include <gtest/gtest.h>

#include "layer_harness.h"

#include "tinylm/model/model.h"
#include "tinylm/tensors/rng.h"
#include "tinylm/training/optim.h"

namespace tinylm::testing {
namespace {

TEST(TensorPool, ReusesABufferOnceNoTensorViewsIt) {
  TensorPool pool;
  Tensor a = pool.Acquire({4, 8});
  const void* a_data = a.raw();
  Tensor b = pool.Acquire({32});  // same bytes, but a is still viewed: a second buffer
  EXPECT_NE(b.raw(), a_data);
  EXPECT_EQ(pool.allocations(), 2u);
  Tensor view = a.Reshape({32});
  a = Tensor();
  Tensor c = pool.Acquire({2, 16});  // a's buffer is still viewed through `view`
  EXPECT_EQ(pool.allocations(), 3u);
  view = Tensor();
  Tensor d = pool.Acquire({8, 4});  // now free: reused, no allocation
  EXPECT_EQ(d.raw(), a_data);
  EXPECT_EQ(pool.allocations(), 3u);
  pool.ResetPeak();  // from here on the pool tracks its peak
  Tensor e = pool.Acquire({4, 8}, DType::kBF16);  // a different byte count: its own bucket
  EXPECT_EQ(pool.allocations(), 4u);
  EXPECT_EQ(pool.bytes(), 3u * 128 + 64);
  EXPECT_EQ(pool.bytes_in_use(), 3u * 128 + 64);
  EXPECT_EQ(pool.peak_bytes_in_use(), 3u * 128 + 64);
  b = c = d = e = Tensor();
  EXPECT_EQ(pool.bytes_in_use(), 0u);
}

proto::TransformerConfig Config(const std::string& mlp) {
  proto::TransformerConfig c;
  c.set_vocab_size(64);
  c.set_d_model(32);
  c.set_layers(3);
  c.set_heads(4);
  c.set_kv_heads(2);
  c.set_ffn_hidden(48);
  c.set_qk_norm(true);
  c.set_tie_embeddings(true);
  c.set_dropout(0.1f);
  c.set_mlp(mlp);
  return c;
}

Batch MakeBatch(int64_t b, int64_t t, uint64_t step) { return RandomTokenBatch(b, t, 64, 9, step); }

class PooledTraining : public ::testing::TestWithParam<std::string> {};

TEST_P(PooledTraining, StepsReuseTheirBuffersAndLeaveNothingHeld) {
  Context ctx(2, 3);
  auto model = BuildTransformer(Config(GetParam()));
  model->store().Allocate(3);
  AdamW opt;
  const int64_t b = 4, t = 32;
  uint64_t after_first = 0;
  size_t step_peak = 0;
  for (int s = 0; s < 5; ++s) {
    ctx.set_step(s);
    ctx.pool().ResetPeak();
    TrainStep(ctx, *model, opt, MakeBatch(b, t, s), 1e-3f, 1.0);
    // Every core layer drops its saved activations in Backward: the pool is all free again.
    EXPECT_EQ(ctx.pool().bytes_in_use(), 0u) << "after step " << s;
    if (s == 0) after_first = ctx.pool().allocations();
    if (s == 1) step_peak = ctx.pool().peak_bytes_in_use();
  }
  // Steady state: the same sizes in the same order every step, all found in the pool.
  EXPECT_EQ(ctx.pool().allocations(), after_first);
  // Exact-size buckets waste little: the pool is not much larger than a step's peak need.
  EXPECT_LE(ctx.pool().bytes(), step_peak * 5 / 4) << "pool " << ctx.pool().bytes() << " peak " << step_peak;

  // An evaluation forward keeps no activations for a backward: its peak is the logits and a
  // few activations between layers, far below a training step's.
  ctx.pool().ResetPeak();
  const Tensor logits = model->Forward(ctx, MakeBatch(b, t, 9).inputs, Mode::kEval);
  const size_t eval_peak = ctx.pool().peak_bytes_in_use();
  EXPECT_LT(eval_peak * 3, step_peak) << "eval " << eval_peak << " step " << step_peak;
  EXPECT_EQ(ctx.pool().allocations(), after_first);
  const size_t logits_bytes = static_cast<size_t>(b * t * 64) * 4;
  EXPECT_EQ(ctx.pool().bytes_in_use(), logits_bytes);  // only what the caller holds
}

INSTANTIATE_TEST_SUITE_P(Mlps, PooledTraining, ::testing::Values("swiglu", "gelu_erf"));

}  // namespace
}  // namespace tinylm::testing
