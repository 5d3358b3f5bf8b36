// PyTorch parity: the 1,006,976-parameter byte transformer (and its QK-norm variant) must
// reproduce tools/make_goldens.py's logits, loss, every parameter gradient, and the loss after
// each of 10 AdamW steps (warmup + cosine, clipping, decoupled weight decay).
#include <gtest/gtest.h>

#include <cmath>

#include "golden_file.h"
#include "tinylm/model/model.h"
#include "tinylm/experiments/spec.h"

#include <google/protobuf/text_format.h>
#include "tinylm/tensors/rng.h"

namespace tinylm::testing {
namespace {

// Relative tolerances against the float64 goldens.
struct GoldenTolerance {
  double logits = 1e-5, loss = 1e-6, grads = 2e-5, losses_after_steps = 1e-5;
};

void CheckGolden(const std::string& file, const proto::ModelSpec& spec, int64_t vocab, int64_t expected_params,
                 int params_per_block = 0, const GoldenTolerance& tol = {}) {
  const bool qk_norm = spec.block().layer(0).residual().mixer().attention().qk_norm();
  if (params_per_block == 0) params_per_block = qk_norm ? 8 : 6;
  auto g = ReadGolden(std::string(TINYLM_GOLDEN_DIR) + "/" + file);
  auto model = BuildModel(spec, vocab);
  model->store().Allocate(0);
  GoldenInit(model->store(), 1234);
  EXPECT_EQ(model->NumParams(), expected_params);

  Context ctx(2, 0);
  Batch batch{g.at("inputs"), g.at("targets"), Tensor()};
  const Tensor& want_logits = g.at("logits");
  model->store().ZeroGrads();
  const Tensor logits = model->Forward(ctx, batch.inputs, Mode::kTrain);
  EXPECT_LE(MaxRelErr(logits.f32(), want_logits.f32(), logits.numel()), tol.logits) << "logits";
  Tensor dlogits = Tensor::Empty(logits.shape());
  const LossResult loss = CrossEntropy(logits, batch.targets, Tensor(), dlogits);
  EXPECT_NEAR(loss.loss, g.at("loss").f32()[0], tol.loss * g.at("loss").f32()[0]) << "loss";
  model->Backward(ctx, dlogits);
  int checked = 0;
  for (const auto& p : model->store().params()) {
    const Tensor& want = g.at("grad/" + p->name);
    ASSERT_EQ(want.shape(), p->shape) << p->name;
    EXPECT_LE(MaxRelErr(p->grad.f32(), want.f32(), p->numel()), tol.grads) << "gradient of " << p->name;
    ++checked;
  }
  const int final_norm_params = !spec.has_final_norm() ? 0 : spec.final_norm().has_layernorm() ? 2 : 1;
  EXPECT_EQ(checked, 1 + final_norm_params + params_per_block * spec.block().count());

  // 10 AdamW steps on the same batch with the golden's schedule and settings.
  AdamW opt({0.9f, 0.95f, 1e-8f, 0.1f});
  ScheduleOptions sched{1e-3f, 1e-4f, 3, 10};
  const Tensor& want_losses = g.at("losses_after_step");
  Tensor scratch = Tensor::Empty(logits.shape());
  for (int step = 0; step < 10; ++step) {
    ctx.set_step(step);
    TrainStep(ctx, *model, opt, batch, ScheduledLr(sched, step), 1.0);
    const Tensor after = model->Forward(ctx, batch.inputs, Mode::kEval);
    const double l = CrossEntropy(after, batch.targets, Tensor(), Tensor()).loss;
    EXPECT_NEAR(l, want_losses.f32()[step], tol.losses_after_steps * want_losses.f32()[step])
        << "loss after step " << step + 1;
  }
}

proto::ModelSpec Transformer1M(bool qk_norm) {
  proto::TransformerConfig cfg;  // defaults: d 128, 5 layers, 4 heads, SwiGLU 336, eps 1e-5, tied
  cfg.set_qk_norm(qk_norm);
  return TransformerModelSpec(cfg);
}

TEST(Golden, Transformer1M) { CheckGolden("transformer_1m.bin", Transformer1M(false), 256, 1006976); }
TEST(Golden, Transformer1MQkNorm) { CheckGolden("transformer_1m_qknorm.bin", Transformer1M(true), 256, 1007296); }

// The model section of the actual spec file, so the golden guards what ablations train.
TEST(Golden, TmlmHaiku) {
  const ResolvedSpec rs = LoadSpec(std::string(TINYLM_SOURCE_DIR) + "/ablations/tmlm_haiku.pbtxt");
  CheckGolden("tmlm_haiku.bin", rs.variant().model(), 2111, 1323360);
}

// MicroMixer-1 1M from its spec file, with every dropout at 0 (masks differ between frameworks);
// `graph`: with HyperMixing built from differentiable ops (derived backward) instead.
void CheckMicroMixerGolden(bool graph) {
  const ResolvedSpec rs = LoadSpec(std::string(TINYLM_SOURCE_DIR) + "/ablations/micromixer_1m.pbtxt");
  std::string text = SpecToText(rs.variant().model());
  if (graph) {
    const std::string open = "[tinylm.plugins.hypermixing] {";
    for (size_t at = 0; (at = text.find(open, at)) != std::string::npos; at += open.size())
      text.insert(at + open.size(), " graph: true ");
    ASSERT_NE(text.find("graph: true"), std::string::npos) << text;
  }
  for (const std::string from : {"dropout: 0.1", "p: 0.1"}) {
    for (size_t at; (at = text.find(from)) != std::string::npos;) text.replace(at, from.size(), from.substr(0, from.size() - 3) + "0");
  }
  proto::ModelSpec spec;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec));
  ASSERT_EQ(text.find("0.1"), std::string::npos) << text;
  CheckGolden("micromixer_1m.bin", spec, 256, 967584, /*params_per_block=*/12);
}
TEST(Golden, MicroMixer1M) { CheckMicroMixerGolden(false); }
TEST(Golden, MicroMixer1MGraphHyperMixing) { CheckMicroMixerGolden(true); }

// The delta LM (284k) from its spec file: 8 plugin blocks of 15 parameters each, no final norm.
TEST(Golden, DeltaLm284k) {
  const ResolvedSpec rs = LoadSpec(std::string(TINYLM_SOURCE_DIR) + "/ablations/delta_lm_284k.pbtxt");
  CheckGolden("delta_lm_284k.bin", rs.variant().model(), 256, 284184, /*params_per_block=*/15);
}

// tiny-tiny-stories (BitNet b1.58) from its spec file: logits, loss and gradients at the usual
// tolerances (measured: logits 4.3e-7, gradients at most 8.6e-7). The 10 training steps drift
// further: after each update some latent weights sit near a ternary rounding boundary, fp32 and
// the golden's float64 send a few to different levels, and the two trajectories part (measured:
// at most 8.8e-3 relative over the 10 losses). The optimiser itself is held tightly by the
// other goldens; here the steps only have to stay on the golden's path.
TEST(Golden, TinyTinyStories) {
  const ResolvedSpec rs = LoadSpec(std::string(TINYLM_SOURCE_DIR) + "/ablations/tiny_tiny_stories.pbtxt");
  GoldenTolerance tol;
  tol.losses_after_steps = 2e-2;
  CheckGolden("tiny_tiny_stories.bin", rs.variant().model(), 192, 998784, 6, tol);
}

}  // namespace
}  // namespace tinylm::testing
