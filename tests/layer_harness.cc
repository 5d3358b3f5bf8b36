#include "layer_harness.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tinylm/layers/layer_check.h"
#include "tinylm/tensors/rng.h"

namespace tinylm::testing {
namespace {

ref::Vec ToVec(const Tensor& t) {
  ref::Vec v(t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = t.f32()[i];
  return v;
}

double MaxAbs(const ref::Vec& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

void ExpectGradientsClose(const std::string& what, const std::vector<double>& analytic, const std::vector<double>& fd,
                          double tol) {
  double err = 0, scale = 1e-4;
  for (size_t i = 0; i < fd.size(); ++i) {
    err = std::max(err, std::fabs(analytic[i] - fd[i]));
    scale = std::max(scale, std::fabs(fd[i]));
  }
  EXPECT_LE(err / scale, tol) << "gradient of " << what << ": max error " << err << " at gradient scale " << scale;
}

}  // namespace

void CheckLayer(const LayerCase& c) {
  SCOPED_TRACE(c.name + " input " + ShapeString(c.in_shape));
  const bool ids = c.vocab > 0;

  // What every layer must satisfy (shapes, gradients vs finite differences of the layer itself,
  // bit-determinism, decode == forward): the same check tinylm-plugin-check runs on plugins.
  LayerCheckOptions opt;
  opt.input = c.in_shape;
  opt.vocab = c.vocab;
  opt.seed = c.seed;
  opt.check_decode = c.check_decode;
  opt.check_causality = c.check_causality;
  opt.check_flop_scaling = c.check_flop_scaling;
  const LayerCheckReport generic = CheckLayerGeneric(c.make, opt);
  for (const auto& check : generic.checks) EXPECT_TRUE(check.ok) << check.name << ": " << check.detail;

  // Then what only a reference can tell: the right function, and the right gradient of it.
  Context ctx(2, c.seed);
  ctx.set_step(3);  // as CheckLayerGeneric (dropout masks depend on it)
  ParamStore store;
  LayerPtr layer = c.make(store);
  store.Allocate(c.seed);
  SetTestValues(store, c.seed);
  const Tensor x = TestInput(c.in_shape, c.vocab, c.seed);
  const ref::Vec xv = ids ? ref::Vec(x.s32(), x.s32() + x.numel()) : ToVec(x);
  ref::Params p0;
  for (const auto& p : store.params()) p0[p->name] = ToVec(p->value);

  // 1. Forward against the naive double reference.
  const Tensor y = layer->Forward(ctx, x, Mode::kTrain).Clone();
  const ref::Vec yr = c.ref(xv, p0);
  ASSERT_EQ(static_cast<int64_t>(yr.size()), y.numel());
  double ferr = 0;
  for (int64_t i = 0; i < y.numel(); ++i) ferr = std::max(ferr, std::fabs(y.f32()[i] - yr[i]));
  EXPECT_LE(ferr / std::max(MaxAbs(yr), 1e-6), c.forward_tol) << "forward vs naive reference";

  // 2. Backward of L = sum(r * y) against central differences of the reference (tight).
  const Tensor r = TestInput(y.shape(), 0, c.seed + 1);
  const ref::Vec rv = ToVec(r);
  store.ZeroGrads();
  const Tensor dx = layer->Backward(ctx, r);
  auto ref_loss = [&](const ref::Vec& xin, const ref::Params& p) {
    const ref::Vec yy = c.ref(xin, p);
    double l = 0;
    for (size_t i = 0; i < yy.size(); ++i) l += rv[i] * yy[i];
    return l;
  };
  const double h = 1e-5;
  if (!ids) {
    std::vector<double> a, fd;
    for (int64_t i : ProbeIndices(x.numel(), 96, 1)) {
      ref::Vec xp = xv, xm = xv;
      xp[i] += h;
      xm[i] -= h;
      fd.push_back((ref_loss(xp, p0) - ref_loss(xm, p0)) / (2 * h));
      a.push_back(dx.f32()[i]);
    }
    ExpectGradientsClose("input (vs reference)", a, fd, c.grad_tol);
  } else {
    EXPECT_FALSE(dx.defined()) << "token-id input has no gradient";
  }
  for (const auto& p : store.params()) {
    std::vector<double> a, fd;
    for (int64_t i : ProbeIndices(p->numel(), 48, HashString(p->name.c_str()))) {
      ref::Params pp = p0, pm = p0;
      pp[p->name][i] += h;
      pm[p->name][i] -= h;
      fd.push_back((ref_loss(xv, pp) - ref_loss(xv, pm)) / (2 * h));
      a.push_back(p->grad.f32()[i]);
    }
    ExpectGradientsClose(p->name + " (vs reference)", a, fd, c.grad_tol);
  }
}

Batch RandomTokenBatch(int64_t b, int64_t t, int vocab, uint64_t seed, uint64_t step) {
  Batch batch{Tensor::Empty({b, t}, DType::kS32), Tensor::Empty({b, t}, DType::kS32), Tensor()};
  for (int64_t i = 0; i < b * t; ++i) {
    batch.inputs.s32()[i] = static_cast<int32_t>(CounterBits(seed, step, i) % vocab);
    batch.targets.s32()[i] = static_cast<int32_t>(CounterBits(seed, step, i + 1) % vocab);
  }
  return batch;
}

}  // namespace tinylm::testing
