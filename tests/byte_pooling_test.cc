// Byte pooling (plugins/byte_pooling, STLM's byte-level model): the pre-tokenizer and chunk
// tokenizer, grouped streams in the data pipeline, the byte encoder and decoder through the
// shared layer harness (naive double references), the PyTorch golden of the whole ~1M model
// written after upstream's modules, chunk-by-chunk decode, and a spec's training end to end.
#include <gtest/gtest.h>
#include <google/protobuf/text_format.h>

#include <cmath>

#include "golden_file.h"
#include "layer_harness.h"
#include "tinylm/data/data.h"
#include "tinylm/experiments/spec.h"
#include "tinylm/model/generate.h"
#include "tinylm/plugins/plugin_manager.h"

namespace tinylm::testing {
namespace {

std::unique_ptr<Tokenizer> Chunks(int c, bool truncate = false) {
  PluginManager::Global().Load("byte_pooling");
  return LoadTokenizer("byte_chunks " + std::to_string(c) + (truncate ? " 1" : " 0"));
}

// The whole byte-pooling model (spec file, fp32) against tools/make_goldens.py's float64 torch
// model (upstream's ByteLevelEmbedder, GenericTransformer, ByteLevelDecoder, ByteModelShell):
// logits, next-chunk loss (end-of-text targets ignored), reconstruction loss, every gradient of
// their sum, and the loss after each of 10 AdamW steps on it.
TEST(BytePooling, MatchesThePyTorchGoldenOfUpstreamsModules) {
  const ResolvedSpec rs = LoadSpec(std::string(TINYLM_SOURCE_DIR) + "/ablations/stlm_byte_pool_1m.pbtxt");
  auto tok = Chunks(12);
  auto model = BuildModel(rs.variant().model(), tok->vocab_size(), tok.get());
  model->store().Allocate(0);
  GoldenInit(model->store(), 1234);
  EXPECT_EQ(model->NumParams(), 1010112);
  auto g = ReadGolden(std::string(TINYLM_GOLDEN_DIR) + "/stlm_byte_pool_1m.bin");
  Batch batch{g.at("inputs"), g.at("targets"), Tensor::Empty(g.at("targets").shape())};
  batch.input_weights = Tensor::Empty(batch.inputs.shape());
  int ignored = 0;
  for (int64_t i = 0; i < batch.targets.numel(); ++i) {
    batch.weights.f32()[i] = batch.targets.s32()[i] == 257 ? 0.0f : 1.0f;
    batch.input_weights.f32()[i] = batch.inputs.s32()[i] == 257 ? 0.0f : 1.0f;
    ignored += batch.targets.s32()[i] == 257;
  }
  ASSERT_GT(ignored, 0);
  Context ctx(2, 0);
  const Tensor logits = model->Forward(ctx, batch.inputs, Mode::kEval);
  EXPECT_LE(MaxRelErr(logits.f32(), g.at("logits").f32(), logits.numel()), 1e-5) << "logits";
  const StepResult r = ForwardBackward(ctx, *model, batch);
  EXPECT_NEAR(r.loss, g.at("loss").f32()[0], 1e-6 * r.loss);
  EXPECT_NEAR(r.reconstruction_loss, g.at("reconstruction_loss").f32()[0], 1e-6 * r.reconstruction_loss);
  int checked = 0;
  for (const auto& p : model->store().params()) {
    const Tensor& want = g.at("grad/" + p->name);
    ASSERT_EQ(want.shape(), p->shape) << p->name;
    EXPECT_LE(MaxRelErr(p->grad.f32(), want.f32(), p->numel()), 2e-5) << "gradient of " << p->name;
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(model->store().params().size()));
  EXPECT_EQ(checked, 2 + 4 * 6 + 4 * 6 + 2 + 2 * 6 + 1);
  AdamW opt({0.9f, 0.95f, 1e-8f, 0.1f});
  const ScheduleOptions sched{1e-3f, 1e-4f, 3, 10};
  for (int step = 0; step < 10; ++step) {
    ctx.set_step(step);
    TrainStep(ctx, *model, opt, batch, ScheduledLr(sched, step), 1.0);
    const double l = CrossEntropy(model->Forward(ctx, batch.inputs, Mode::kEval), batch.targets, batch.weights, Tensor()).loss;
    EXPECT_NEAR(l, g.at("losses_after_step").f32()[step], 1e-5 * l) << "loss after step " << step + 1;
  }
}

}  // namespace
}  // namespace tinylm::testing
