// What shapes the arms of a comparison before their seeds run: learning-rate grids and rates
// (later stages keep their ratio), equal-FLOPs budgets, and the cache keys that follow them.
#include <gtest/gtest.h>

#include <cmath>

#include "temp_dir.h"
#include "tinylm/experiments/compute.h"
#include "tinylm/experiments/lr_sweep.h"
#include "tinylm/experiments/spec.h"

namespace tinylm::testing {
namespace {

constexpr char kTwoStages[] = R"(name: "two"
model {
  d_model: 16
  context: 32
  block {
    count: 1
    layer { residual { norm { rmsnorm {} } mixer { attention { heads: 2 } } } }
    layer { residual { norm { rmsnorm {} } mixer { swiglu { hidden: 24 } } } }
  }
  final_norm { rmsnorm {} }
}
data { train { path: "train.txt" } validation { path: "val.txt" } }
stages { tokens: 2048 batch_size: 4 seq_len: 16 optimizer { lr: 2e-3 } }
stages { name: "second" tokens: 1024 batch_size: 2 seq_len: 32 optimizer { lr: 5e-4 } }
)";

Experiment Prepare(TempDir& dir) {
  dir.Write("train.txt", TinyStories(60));
  dir.Write("val.txt", TinyStories(10, 1));
  return PrepareExperiment(LoadSpec(dir.Write("two.pbtxt", kTwoStages)), false, dir.path());
}

TEST(ComparisonOptions, LearningRateGridIsLogSpacedWithBothEnds) {
  proto::LrSweepSpec s;
  s.set_min_lr(1e-4);
  s.set_max_lr(1e-2);
  s.set_points(5);
  const std::vector<double> g = LearningRateGrid(s);
  ASSERT_EQ(g.size(), 5u);
  EXPECT_NEAR(g[0], 1e-4, 1e-10);  // the spec holds floats
  EXPECT_NEAR(g[2], 1e-3, 1e-9);
  EXPECT_NEAR(g[4], 1e-2, 1e-8);
  EXPECT_NEAR(g[1] / g[0], g[4] / g[3], 1e-9);
}

TEST(ComparisonOptions, ARateAppliesToTheFirstStageAndScalesTheOthers) {
  TempDir dir;
  const Experiment e = Prepare(dir);
  const Experiment a = AtLearningRate(e, 8e-3);
  EXPECT_FLOAT_EQ(a.stages[0].spec.optimizer().lr(), 8e-3f);
  EXPECT_FLOAT_EQ(a.stages[1].spec.optimizer().lr(), 2e-3f);  // 5e-4 x 4, like the first stage
  EXPECT_FLOAT_EQ(a.spec.stages(1).optimizer().lr(), 2e-3f);
  EXPECT_EQ(a.stages[0].steps, e.stages[0].steps);
  // Another rate is another run: its cache key and spec text change; the original is untouched.
  EXPECT_NE(a.CacheKey(1), e.CacheKey(1));
  EXPECT_NE(a.spec_text.find("lr: 0.008"), std::string::npos) << a.spec_text;
  EXPECT_FLOAT_EQ(e.stages[0].spec.optimizer().lr(), 2e-3f);
  EXPECT_EQ(AtLearningRate(e, 2e-3).CacheKey(1), e.CacheKey(1));  // its own rate: the same run
}

TEST(ComparisonOptions, BestRunIsTheLowestLossThatDidNotDiverge) {
  std::vector<proto::RunSummary> runs(3);
  runs[0].set_val_loss(3.0);
  runs[1].set_val_loss(1.0);
  runs[1].mutable_divergence()->set_step(4);
  runs[2].set_val_loss(2.0);
  EXPECT_EQ(BestRun(runs), 2);
  runs[0].mutable_divergence()->set_step(1);
  runs[2].mutable_divergence()->set_step(1);
  EXPECT_EQ(BestRun(runs), -1);
}

TEST(ComparisonOptions, EqualFlopsScalesEveryStageToTheBaselinesCost) {
  TempDir dir;
  const Experiment e = Prepare(dir);
  const std::vector<StageCompute> base = ComputeOf(e);
  std::vector<StageCompute> costly = base;
  for (StageCompute& c : costly) c.training_per_token *= 2;  // a variant twice as expensive per token
  const Experiment v = AtBaselineFlops(e, base, costly);
  for (size_t i = 0; i < base.size(); ++i) {
    EXPECT_EQ(v.spec.stages(i).tokens(), llround(base[i].total() / costly[i].training_per_token)) << i;
    const int64_t per_step = static_cast<int64_t>(v.stages[i].spec.batch_size()) * v.stages[i].spec.seq_len();
    EXPECT_EQ(v.stages[i].steps, (v.spec.stages(i).tokens() + per_step - 1) / per_step) << i;
    EXPECT_LT(v.stages[i].steps, e.stages[i].steps) << i;
  }
  EXPECT_THROW(AtBaselineFlops(e, {base[0]}, costly), SpecError);
}

TEST(ComparisonOptions, FlopsAtTokensFollowsEachStagesCost) {
  const std::vector<Comparison::StageFlops> stages = {{1000, 10.0}, {500, 30.0}};
  EXPECT_DOUBLE_EQ(FlopsAtTokens(stages, 0), 0);
  EXPECT_DOUBLE_EQ(FlopsAtTokens(stages, 400), 4000);
  EXPECT_DOUBLE_EQ(FlopsAtTokens(stages, 1000), 10000);
  EXPECT_DOUBLE_EQ(FlopsAtTokens(stages, 1200), 10000 + 200 * 30.0);
  EXPECT_DOUBLE_EQ(FlopsAtTokens(stages, 1500), 25000);
}

}  // namespace
}  // namespace tinylm::testing
