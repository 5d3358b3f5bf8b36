// Cross-entropy, AdamW, clipping and the schedule against their definitions.
#include <gtest/gtest.h>

#include <cmath>

#include "reference.h"
#include "tinylm/model/loss.h"
#include "tinylm/training/optim.h"
#include "tinylm/tensors/rng.h"

namespace tinylm::testing {
namespace {

struct CeCase {
  int64_t n, v;
  bool weighted;
};

TEST(CrossEntropy, MatchesReferenceAndFiniteDifferences) {
  for (const CeCase& c : std::vector<CeCase>{{1, 2, false}, {7, 13, false}, {33, 257, true}, {5, 3, true}}) {
    SCOPED_TRACE(std::to_string(c.n) + "x" + std::to_string(c.v));
    Tensor z = Tensor::Empty({c.n, c.v}), y = Tensor::Empty({c.n}, DType::kS32), w;
    std::vector<int32_t> yv;
    ref::Vec zv, wv;
    for (int64_t i = 0; i < z.numel(); ++i) zv.push_back(z.f32()[i] = 6.0f * CounterUniform(3, 1, i) - 3.0f);
    for (int64_t i = 0; i < c.n; ++i) yv.push_back(y.s32()[i] = static_cast<int32_t>(CounterBits(3, 2, i) % c.v));
    if (c.weighted) {
      w = Tensor::Empty({c.n});
      // Some zero weights (masked positions) and some boosted ones.
      for (int64_t i = 0; i < c.n; ++i) wv.push_back(w.f32()[i] = (i % 3 == 0) ? 0.0f : 1.0f + (i % 2));
    }
    Tensor g = Tensor::Empty({c.n, c.v});
    const LossResult r = CrossEntropy(z, y, w, g);
    const double want = ref::CrossEntropy(zv, c.v, yv, wv);
    EXPECT_NEAR(r.loss, want, 1e-6 * std::max(1.0, want));
    for (int64_t i = 0; i < z.numel(); i += std::max<int64_t>(1, z.numel() / 50)) {
      ref::Vec zp = zv, zm = zv;
      zp[i] += 1e-6;
      zm[i] -= 1e-6;
      const double fd = (ref::CrossEntropy(zp, c.v, yv, wv) - ref::CrossEntropy(zm, c.v, yv, wv)) / 2e-6;
      EXPECT_NEAR(g.f32()[i], fd, 1e-5) << "dlogits[" << i << "]";
    }
  }
}

TEST(CrossEntropy, CountsAccuracyAndUnweightedSum) {
  Tensor z = Tensor::Zeros({3, 4}), y = Tensor::Empty({3}, DType::kS32), w = Tensor::Empty({3});
  z.f32()[0 * 4 + 1] = 5;  // row 0 predicts 1
  z.f32()[1 * 4 + 2] = 5;  // row 1 predicts 2
  z.f32()[2 * 4 + 3] = 5;  // row 2 predicts 3 (masked)
  y.s32()[0] = 1, y.s32()[1] = 0, y.s32()[2] = 3;
  w.f32()[0] = 2, w.f32()[1] = 1, w.f32()[2] = 0;
  const LossResult r = CrossEntropy(z, y, w, Tensor());
  EXPECT_EQ(r.count, 2);
  EXPECT_EQ(r.correct, 1);
  const double ce0 = std::log(3 + std::exp(5.0)) - 5, ce1 = std::log(3 + std::exp(5.0));
  EXPECT_NEAR(r.ce_sum, ce0 + ce1, 1e-5);
  EXPECT_NEAR(r.loss, (2 * ce0 + ce1) / 3, 1e-5);
}

TEST(CrossEntropy, RejectsOutOfRangeTargets) {
  Tensor z = Tensor::Zeros({2, 4}), y = Tensor::Zeros({2}, DType::kS32);
  y.s32()[1] = 4;
  EXPECT_THROW(CrossEntropy(z, y, Tensor(), Tensor()), std::out_of_range);
}

TEST(AdamW, MatchesTheUpdateRuleWithDecoupledDecay) {
  ParamStore s;
  s.Declare("w", {3, 4}, Init::Uniform(1), true);
  s.Declare("b", {5}, Init::Uniform(1), false);
  s.Allocate(9);
  std::vector<double> w(s.values().numel()), m(w.size(), 0), v(w.size(), 0);
  for (size_t i = 0; i < w.size(); ++i) w[i] = s.values().f32()[i];
  AdamW opt({0.9f, 0.95f, 1e-8f, 0.1f});
  for (int step = 1; step <= 5; ++step) {
    const float lr = 0.01f * step;
    for (const auto& p : s.params())
      for (int64_t i = 0; i < p->numel(); ++i) {
        const double g = std::sin(step * 3.0 + i + p->offset);
        p->grad.f32()[i] = static_cast<float>(g);
        const size_t k = p->offset + i;
        if (p->decay) w[k] *= 1 - lr * 0.1;
        m[k] = 0.9 * m[k] + 0.1 * g;
        v[k] = 0.95 * v[k] + 0.05 * g * g;
        const double mh = m[k] / (1 - std::pow(0.9, step)), vh = v[k] / (1 - std::pow(0.95, step));
        w[k] -= lr * mh / (std::sqrt(vh) + 1e-8);
      }
    opt.Step(s, lr);
  }
  for (const auto& p : s.params())
    for (int64_t i = 0; i < p->numel(); ++i)
      EXPECT_NEAR(p->value.f32()[i], w[p->offset + i], 2e-6) << p->name << "[" << i << "]";
}

TEST(ClipGradNorm, ScalesToMaxNormAndReportsTheNorm) {
  ParamStore s;
  s.Declare("a", {2}, Init::Constant(0), true);
  s.Declare("b", {1}, Init::Constant(0), true);
  s.Allocate(0);
  s.Find("a")->grad.f32()[0] = 3, s.Find("a")->grad.f32()[1] = 0, s.Find("b")->grad.f32()[0] = 4;
  EXPECT_NEAR(ClipGradNorm(s, 10.0), 5.0, 1e-9);  // below the limit: untouched
  EXPECT_FLOAT_EQ(s.Find("b")->grad.f32()[0], 4.0f);
  EXPECT_NEAR(ClipGradNorm(s, 1.0), 5.0, 1e-9);
  EXPECT_NEAR(s.Find("a")->grad.f32()[0], 0.6, 1e-6);
  EXPECT_NEAR(s.Find("b")->grad.f32()[0], 0.8, 1e-6);
}

TEST(Schedule, WarmupThenCosine) {
  ScheduleOptions o{1.0f, 0.1f, 4, 14};
  EXPECT_FLOAT_EQ(ScheduledLr(o, 0), 0.25f);
  EXPECT_FLOAT_EQ(ScheduledLr(o, 3), 1.0f);
  EXPECT_NEAR(ScheduledLr(o, 4), 1.0f, 1e-6);
  EXPECT_NEAR(ScheduledLr(o, 9), 0.55f, 1e-6);  // halfway through the cosine
  EXPECT_NEAR(ScheduledLr(o, 14), 0.1f, 1e-6);
  EXPECT_NEAR(ScheduledLr(o, 100), 0.1f, 1e-6);
  for (int s = 4; s < 14; ++s) EXPECT_GE(ScheduledLr(o, s), ScheduledLr(o, s + 1));
}

}  // namespace
}  // namespace tinylm::testing
