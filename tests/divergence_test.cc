// Divergence is a result, not a crash: NaN logits do not crash the cross-entropy, the first
// non-finite layer is named, a diverging run stops with its step and layer in the summary (a
// finished, cached result) or skips the step when asked, and comparisons leave its seed out.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "temp_dir.h"
#include "small_models.h"
#include "tinylm/experiments/experiment.h"
#include "tinylm/experiments/report.h"
#include "tinylm/model/loss.h"
#include "tinylm/training/divergence.h"
#include "tinylm/training/trainer.h"

namespace tinylm::testing {
namespace {

TEST(Divergence, CrossEntropyOfNanLogitsIsNanNotACrash) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor logits = Tensor::Empty({3, 4});
  const float rows[3][4] = {{nan, nan, nan, nan}, {1, nan, 2, 0}, {1, 3, 2, 0}};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) logits.f32()[i * 4 + j] = rows[i][j];
  Tensor targets = Tensor::Empty({3}, DType::kS32);
  for (int i = 0; i < 3; ++i) targets.s32()[i] = 1;
  Tensor d = Tensor::Empty({3, 4});
  const LossResult r = CrossEntropy(logits, targets, Tensor(), d);
  EXPECT_TRUE(std::isnan(r.loss));
  EXPECT_EQ(r.correct, 1);  // only the finite row's maximum is its target
  EXPECT_FALSE(AllFinite(logits));
  EXPECT_FALSE(AllFinite(d));
  Tensor ok = Tensor::Empty({2});
  ok.f32()[0] = 3.0e38f, ok.f32()[1] = -3.0e38f;
  EXPECT_TRUE(AllFinite(ok));
  ok.f32()[1] = -std::numeric_limits<float>::infinity();
  EXPECT_FALSE(AllFinite(ok));
}

std::unique_ptr<LanguageModel> SmallModel() { return SmallTransformer(64, 16, 3, 2, 32, 32, 3); }

Batch SmallBatch() {
  Batch b{Tensor::Empty({2, 8}, DType::kS32), Tensor::Empty({2, 8}, DType::kS32), Tensor()};
  for (int i = 0; i < 16; ++i) b.inputs.s32()[i] = (i * 5) % 64, b.targets.s32()[i] = (i * 5 + 1) % 64;
  return b;
}

TEST(Divergence, NamesTheFirstLayerWhoseOutputIsNotFinite) {
  auto m = SmallModel();
  Context ctx(2, 1);
  EXPECT_TRUE(LocateNonFinite(ctx, *m, SmallBatch()).layer.empty()) << "a healthy model";
  // Poison one weight of the second block's MLP branch.
  const auto& parts = m->parts();
  size_t k = 0;
  while (k < parts.size() && parts[k].name.rfind("blocks.1.", 0) != 0) ++k;
  ASSERT_LT(k + 1, parts.size());
  const Param* w = parts[k + 1].layer->Params().back();
  w->value.f32()[0] = std::numeric_limits<float>::quiet_NaN();
  m->store().Touch();
  const NonFiniteSite site = LocateNonFinite(ctx, *m, SmallBatch());
  EXPECT_EQ(site.layer.rfind(parts[k + 1].name + " (", 0), 0u) << site.layer;
  EXPECT_EQ(site.where, "forward output");
  // TrainStep leaves weights and moments alone on a non-finite step.
  AdamW opt({0.9, 0.99, 1e-8, 0.1});
  const std::vector<float> before(m->store().values().f32(), m->store().values().f32() + m->store().values().numel());
  const StepResult r = TrainStep(ctx, *m, opt, SmallBatch(), 1e-3f, 1.0);
  EXPECT_FALSE(r.finite);
  for (size_t i = 0; i < before.size(); ++i) {
    if (std::isnan(before[i]) && std::isnan(m->store().values().f32()[i])) continue;  // the poisoned weight
    ASSERT_EQ(before[i], m->store().values().f32()[i]) << i;
  }
}

// A learning rate of 1e4 drives a tiny byte model's weights to overflow within a few steps.
constexpr char kDivergingSpec[] = R"(name: "diverge"
seeds: [1]
model {
  d_model: 16
  context: 32
  block {
    count: 2
    layer { residual { norm { rmsnorm {} } mixer { attention { heads: 2 } } } }
    layer { residual { norm { rmsnorm {} } mixer { swiglu { hidden: 24 } } } }
  }
  final_norm { rmsnorm {} }
}
data { train { path: "train.txt" } validation { path: "val.txt" } }
stages { tokens: 4096 batch_size: 4 seq_len: 16 optimizer { lr: 1e4 grad_clip: 0 } %s }
eval { interval_steps: 0 max_tokens: 256 log_interval_steps: 1 checkpoint_interval_steps: 4 sample_tokens: 8 }
)";

struct Fixture {
  TempDir dir;
  Experiment e;
  explicit Fixture(const std::string& stage_extra = "") {
    dir.Write("train.txt", TinyStories(60));
    dir.Write("val.txt", TinyStories(10, 1));
    char spec[2048];
    std::snprintf(spec, sizeof spec, kDivergingSpec, stage_extra.c_str());
    e = PrepareExperiment(LoadSpec(dir.Write("spec.pbtxt", spec)), false, dir.path());
  }
  RunOptions Opts() const {
    RunOptions o;
    o.seed = 1;
    o.dir = dir.path() + "/run";
    o.threads = 2;
    return o;
  }
};

TEST(Divergence, ADivergingRunStopsWithStepAndReasonAndIsACachedResult) {
  Fixture f;
  const proto::RunSummary r = TrainRun(f.e, f.Opts());
  ASSERT_TRUE(r.has_divergence()) << r.DebugString();
  EXPECT_GT(r.divergence().step(), 1);
  EXPECT_LT(r.divergence().step(), 64);
  EXPECT_EQ(r.divergence().stage(), "pretrain");
  EXPECT_FALSE(r.divergence().reason().empty());
  EXPECT_FALSE(r.has_val_bpb());
  EXPECT_TRUE(std::filesystem::exists(f.dir.path() + "/run/summary.json"));
  EXPECT_NE(f.dir.Read("run/metrics.jsonl").find("\"diverged\":true"), std::string::npos);
  proto::RunSummary cached;
  ASSERT_TRUE(ReadFinishedRun(f.dir.path() + "/run", &cached));
  EXPECT_EQ(cached.divergence().step(), r.divergence().step());
  EXPECT_EQ(cached.divergence().layer(), r.divergence().layer());
}

TEST(Divergence, SkipStepSkipsUpToTheLimitThenStops) {
  Fixture f("on_nonfinite: SKIP_STEP max_skipped_steps: 3");
  const proto::RunSummary r = TrainRun(f.e, f.Opts());
  // Either the loss exploded while finite (stops at once) or non-finite steps were skipped.
  ASSERT_TRUE(r.has_divergence()) << r.DebugString();
  if (r.skipped_steps() > 0) {
    EXPECT_EQ(r.skipped_steps(), 3);
    EXPECT_NE(r.divergence().reason().find("4 non-finite steps in a row"), std::string::npos) << r.divergence().reason();
    EXPECT_NE(f.dir.Read("run/metrics.jsonl").find("\"skipped\":true"), std::string::npos);
  }
}

TEST(Divergence, ResumeCountsTheStepsSkippedBeforeIt) {
  Fixture f("on_nonfinite: SKIP_STEP max_skipped_steps: 1000");
  RunOptions o = f.Opts();
  o.stop_after_steps = 12;
  TrainRun(f.e, o);  // stopped (as if killed) after 12 steps
  const std::string before = f.dir.Read("run/metrics.jsonl");
  size_t skipped_before = 0;
  for (size_t at = before.find("\"skipped\""); at != std::string::npos; at = before.find("\"skipped\"", at + 1)) ++skipped_before;
  o.stop_after_steps = -1;
  o.resume = true;
  const proto::RunSummary r = TrainRun(f.e, o);
  const std::string after = f.dir.Read("run/metrics.jsonl");
  size_t skipped = 0;
  for (size_t at = after.find("\"skipped\""); at != std::string::npos; at = after.find("\"skipped\"", at + 1)) ++skipped;
  EXPECT_GT(skipped_before, 0u) << "the first part skipped steps, so the resume has some to count";
  EXPECT_GE(skipped, skipped_before);
  EXPECT_EQ(r.skipped_steps(), static_cast<int64_t>(skipped)) << after;
}

proto::RunSummary Summary(uint64_t seed, double bpb, bool diverged = false) {
  proto::RunSummary r;
  r.set_seed(seed);
  r.set_val_bpb(bpb);
  if (diverged) {
    r.clear_val_bpb();
    r.mutable_divergence()->set_step(17);
    r.mutable_divergence()->set_stage("pretrain");
    r.mutable_divergence()->set_reason("non-finite loss or gradient, first in the forward output");
    r.mutable_divergence()->set_layer("blocks.1.0 (residual(rmsnorm, attention 2h))");
  }
  return r;
}

TEST(Divergence, ComparisonsLeaveTheDivergedSeedOutAndSaySo) {
  Comparison c;
  c.name = "x";
  c.baseline = {Summary(1, 2.0), Summary(2, 2.1), Summary(3, 2.2)};
  c.variant = {Summary(1, 1.9), Summary(2, 0, true), Summary(3, 2.1)};
  const std::string table = ComparisonTable(c);
  EXPECT_NE(table.find("Diverged: variant seed 2 diverged at step 17 (pretrain)"), std::string::npos) << table;
  EXPECT_NE(table.find("blocks.1.0"), std::string::npos);
  // Each arm's column holds its healthy runs; the paired difference leaves seed 2 out of both.
  EXPECT_NE(table.find("baseline (3 seeds)"), std::string::npos) << table;
  EXPECT_NE(table.find("variant (2 seeds)"), std::string::npos) << table;
  EXPECT_NE(table.find("[95% CI, 2 seeds]"), std::string::npos) << table;
  EXPECT_NE(table.find("2.1000 ± 0.1000"), std::string::npos) << table;  // baseline seeds 1-3
  EXPECT_NE(table.find("2.0000 ± 0.1414"), std::string::npos) << table;  // variant seeds 1 and 3
  EXPECT_NE(table.find("-0.1000"), std::string::npos) << table;          // paired on seeds 1 and 3
  EXPECT_NE(ReportMarkdown(c, "ablate x").find("**Diverged**: variant seed 2"), std::string::npos);
  EXPECT_NE(SummaryJson(c).find("\"divergence\""), std::string::npos);
  EXPECT_NE(table.find("identical in every seed"), std::string::npos) << table;  // e.g. sample repetition

  c.variant = {Summary(1, 0, true), Summary(2, 0, true), Summary(3, 0, true)};
  EXPECT_NE(ComparisonTable(c).find("n/a: every seed diverged"), std::string::npos) << ComparisonTable(c);
}

}  // namespace
}  // namespace tinylm::testing
