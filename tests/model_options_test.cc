// Core model options: FFN sharing (STLM's generic_ffn_sharing) shares exactly the MLP weights
// and accumulates their gradients over the blocks; the reconstruction loss joins the training
// loss and its gradient (the byte-pooling golden checks it against PyTorch numerically).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "layer_harness.h"
#include "tinylm/layers/layer_check.h"
#include "tinylm/model/model.h"

namespace tinylm::testing {
namespace {

proto::ModelSpec ThreeBlocks(bool share_ffn) {
  proto::TransformerConfig c;
  c.set_d_model(16);
  c.set_layers(3);
  c.set_heads(2);
  c.set_ffn_hidden(24);
  c.set_context(32);
  proto::ModelSpec m = TransformerModelSpec(c);
  m.mutable_block()->set_share_ffn(share_ffn);
  return m;
}

// The shared model equals an unshared one whose three MLPs hold block 0's values, and the
// shared gradient is the sum of the three.
TEST(FfnSharing, SharesOnlyTheMlpAndSumsItsGradients) {
  auto shared = BuildModel(ThreeBlocks(true), 256);
  auto separate = BuildModel(ThreeBlocks(false), 256);
  const int64_t mlp = 3 * 16 * 24;  // gate, up, down
  EXPECT_EQ(shared->NumParams(), separate->NumParams() - 2 * mlp);
  separate->store().Allocate(1);
  SetTestValues(separate->store(), 1);
  for (int b = 1; b < 3; ++b)
    for (const char* m : {"gate_up", "down"}) {
      const std::string from = "blocks.0.1.swiglu." + std::string(m) + ".weight";
      const std::string to = "blocks." + std::to_string(b) + ".1.swiglu." + m + ".weight";
      separate->store().Find(to)->value.CopyFrom(separate->store().Find(from)->value);
    }
  shared->store().Allocate(1);
  for (const auto& p : shared->store().params()) p->value.CopyFrom(separate->store().Find(p->name)->value);
  std::set<std::string> norms;
  for (const auto& p : shared->store().params()) norms.insert(p->name);
  for (int b = 0; b < 3; ++b) EXPECT_TRUE(norms.count("blocks." + std::to_string(b) + ".1.norm.weight")) << "per-block norm";
  EXPECT_FALSE(norms.count("blocks.1.1.swiglu.down.weight"));

  Context ctx(2, 1);
  const Batch batch = RandomTokenBatch(2, 12, 256, 3, 0);
  const StepResult a = ForwardBackward(ctx, *shared, batch), b = ForwardBackward(ctx, *separate, batch);
  EXPECT_NEAR(a.loss, b.loss, 1e-6 * b.loss);
  for (const char* m : {"gate_up", "down"}) {
    const Param* s = shared->store().Find("blocks.0.1.swiglu." + std::string(m) + ".weight");
    double err = 0, scale = 1e-12;
    for (int64_t i = 0; i < s->numel(); ++i) {
      double sum = 0;
      for (int blk = 0; blk < 3; ++blk)
        sum += separate->store().Find("blocks." + std::to_string(blk) + ".1.swiglu." + m + ".weight")->grad.f32()[i];
      err = std::max(err, std::fabs(s->grad.f32()[i] - sum));
      scale = std::max(scale, std::fabs(sum));
    }
    EXPECT_LE(err / scale, 1e-5) << m;
  }
}

// With a reconstruction head the loss is unchanged and the head's second application adds its
// own cross-entropy (reported separately) and gradient.
TEST(Reconstruction, AddsTheDecodedInputsLossAndGradient) {
  proto::ModelSpec spec = ThreeBlocks(false);
  spec.set_tie_embeddings(false);
  auto plain = BuildModel(spec, 256);
  spec.set_reconstruction_weight(0.5f);
  auto with = BuildModel(spec, 256);
  EXPECT_EQ(with->NumParams(), plain->NumParams()) << "the reconstruction head shares the head's weights";
  plain->store().Allocate(2);
  with->store().Allocate(2);
  Context ctx(2, 1);
  const Batch batch = RandomTokenBatch(2, 12, 256, 4, 0);
  const StepResult a = ForwardBackward(ctx, *plain, batch), b = ForwardBackward(ctx, *with, batch);
  EXPECT_NEAR(a.loss, b.loss, 1e-6 * a.loss);
  EXPECT_GT(b.reconstruction_loss, 0.0);
  // The head's gradient gains 0.5 x the reconstruction gradient: it differs, the core's
  // later blocks do not (the reconstruction path skips them).
  EXPECT_NE(plain->store().Find("head.weight")->grad.f32()[0], with->store().Find("head.weight")->grad.f32()[0]);
  const Param* late = with->store().Find("final_norm.weight");
  for (int64_t i = 0; i < late->numel(); ++i) EXPECT_NEAR(late->grad.f32()[i], plain->store().Find("final_norm.weight")->grad.f32()[i], 1e-6);
}

}  // namespace
}  // namespace tinylm::testing
