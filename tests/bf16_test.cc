// Mixed precision (runtime.precision: BF16): a Linear's products in bf16 stay within bf16's
// rounding of the fp32 ones, the bf16 weight copy follows every optimizer step, and a training
// run's validation loss stays within 1% of the fp32 run's.
#include <gtest/gtest.h>

#include <cmath>

#include "temp_dir.h"
#include "tinylm/experiments/experiment.h"
#include "tinylm/layers/layer_check.h"
#include "tinylm/layers/linear.h"
#include "tinylm/tensors/ops.h"
#include "tinylm/training/optim.h"
#include "tinylm/training/trainer.h"

namespace tinylm::testing {
namespace {

double MaxRel(const Tensor& a, const Tensor& b) {
  double err = 0, scale = 1e-12;
  for (int64_t i = 0; i < a.numel(); ++i) {
    err = std::max(err, std::fabs(static_cast<double>(a.f32()[i]) - b.f32()[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(b.f32()[i])));
  }
  return err / scale;
}

TEST(Bf16, ConversionRoundsToNearestEven) {
  const float in[] = {1.0f, 1.00390625f /* 1 + 2^-8: tie, to even (1.0) */, 1.01171875f /* tie, up */, -2.5f,
                      std::nanf(""), INFINITY};
  uint16_t out[6];
  ConvertToBf16(in, out, 6);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], FloatToBf16(in[i])) << i;
  EXPECT_EQ(Bf16ToFloat(out[1]), 1.0f);
  EXPECT_EQ(Bf16ToFloat(out[2]), 1.015625f);
  EXPECT_TRUE(std::isnan(Bf16ToFloat(out[4])));
}

TEST(Bf16, LinearMatchesFp32WithinBf16Rounding) {
  ParamStore s;
  Linear l(s, "l", 64, 96, /*bias=*/true);
  s.Allocate(1);
  SetTestValues(s, 1);
  const Tensor x = TestInput({4, 16, 64}, 0, 2), dy = TestInput({4, 16, 96}, 0, 3);
  Context ctx(2, 1);
  auto run = [&](bool bf16, Tensor& y, Tensor& dx, Tensor& grads) {
    ctx.set_bf16_matmuls(bf16);
    s.ZeroGrads();
    y = l.Forward(ctx, x, Mode::kTrain).Clone();
    dx = l.Backward(ctx, dy).Clone();
    grads = s.grads().Clone();
  };
  Tensor y32, dx32, g32, y16, dx16, g16;
  run(false, y32, dx32, g32);
  run(true, y16, dx16, g16);
  // bf16 keeps 8 significant bits (relative rounding 2^-9 per operand); sums of 64 products of
  // rounded operands stay well within 1% of the largest value, and are not exact.
  for (const auto& [name, a, b] : {std::tuple{"y", &y16, &y32}, {"dx", &dx16, &dx32}, {"grads", &g16, &g32}}) {
    const double e = MaxRel(*a, *b);
    EXPECT_LT(e, 1e-2) << name;
    EXPECT_GT(e, 1e-6) << name << ": the bf16 path did not run";
  }
}

TEST(Bf16, WeightCopyFollowsTheOptimizer) {
  ParamStore s;
  Linear l(s, "l", 32, 32, false);
  s.Allocate(1);
  Context ctx(1, 1);
  ctx.set_bf16_matmuls(true);
  const Tensor x = TestInput({2, 8, 32}, 0, 2);
  const Tensor y0 = l.Forward(ctx, x, Mode::kTrain).Clone();
  l.Backward(ctx, TestInput({2, 8, 32}, 0, 3));
  AdamW opt;
  opt.Step(s, 0.05f);  // moves every weight by ~0.05: far beyond bf16 rounding
  const Tensor y1 = l.Forward(ctx, x, Mode::kEval).Clone();
  ctx.set_bf16_matmuls(false);
  const Tensor y32 = l.Forward(ctx, x, Mode::kEval).Clone();
  EXPECT_GT(MaxRel(y1, y0), 0.05) << "a stale bf16 weight copy";
  EXPECT_LT(MaxRel(y1, y32), 1e-2);
}

constexpr char kSpec[] = R"(name: "bf16"
seeds: [1]
model {
  d_model: 64
  context: 64
  block {
    count: 2
    layer { residual { norm { rmsnorm {} } mixer { attention { heads: 2 qk_norm: true rope {} } } } }
    layer { residual { norm { rmsnorm {} } mixer { swiglu { hidden: 128 } } } }
  }
  final_norm { rmsnorm {} }
}
data { train { path: "train.txt" } validation { path: "val.txt" } }
stages { tokens: 98304 batch_size: 16 seq_len: 64 optimizer { lr: 3e-3 } }
eval { interval_steps: 1000 max_tokens: 8192 sample_tokens: 0 }
)";

// The issue's criterion (validation loss within 1% of fp32's after training) on a small budget:
// 96 steps of a 100k-parameter model on story-like text; docs/performance.md has the 1M-token
// figure of transformer_1m.
TEST(Bf16, TrainingReachesTheFp32ValidationLoss) {
  TempDir dir;
  dir.Write("train.txt", TinyStories(400));
  dir.Write("val.txt", TinyStories(40, 1));
  auto train = [&](const char* precision) {
    const ResolvedSpec rs = LoadSpec(dir.Write("spec.pbtxt", kSpec), {{"runtime.precision", precision}});
    const Experiment e = PrepareExperiment(rs, false, dir.path());
    RunOptions o;
    o.seed = 1;
    o.threads = 2;
    o.dir = dir.path() + "/" + precision;
    return TrainRun(e, o);
  };
  const proto::RunSummary fp32 = train("FP32"), bf16 = train("BF16");
  const double a = fp32.val_loss(), b = bf16.val_loss();
  EXPECT_LT(a, 2.6) << "the fp32 run should have learnt something";
  EXPECT_NEAR(b, a, 0.01 * a) << "fp32 " << a << ", bf16 " << b;
  EXPECT_NE(a, b) << "the bf16 run must differ at all";
}

}  // namespace
}  // namespace tinylm::testing
