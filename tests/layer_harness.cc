#include "layer_harness.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "tinylm/rng.h"

namespace tinylm::testing {
namespace {

ref::Vec ToVec(const Tensor& t) {
  ref::Vec v(t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = t.f32()[i];
  return v;
}

ref::Params ParamsOf(const ParamStore& s) {
  ref::Params p;
  for (const auto& q : s.params()) p[q->name] = ToVec(q->value);
  return p;
}

double MaxAbs(const ref::Vec& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

// Indices to probe in a tensor of n elements: all if small, else a fixed spread sample.
std::vector<int64_t> Probe(int64_t n, int64_t max_count, uint64_t salt) {
  std::vector<int64_t> idx;
  if (n <= max_count) {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  } else {
    for (int64_t i = 0; i < max_count; ++i)
      idx.push_back(static_cast<int64_t>(CounterBits(7, salt, i) % n));
  }
  return idx;
}

// Copies positions [t0, t1) of a [B, T, ...] tensor.
Tensor SliceTime(const Tensor& x, int64_t t0, int64_t t1) {
  Shape s = x.shape();
  const int64_t b = s[0], t = s[1], inner = x.numel() / (b * t);
  s[1] = t1 - t0;
  Tensor out = Tensor::Empty(s, x.dtype());
  const size_t es = DTypeSize(x.dtype());
  for (int64_t bi = 0; bi < b; ++bi)
    std::memcpy(static_cast<char*>(out.raw()) + bi * (t1 - t0) * inner * es,
                static_cast<char*>(x.raw()) + (bi * t + t0) * inner * es, (t1 - t0) * inner * es);
  return out;
}

}  // namespace

void CheckLayer(const LayerCase& c) {
  SCOPED_TRACE(c.name + " input " + ShapeString(c.in_shape));
  Context ctx(2, c.seed);
  ctx.set_step(3);
  ParamStore store;
  LayerPtr layer = c.make(store);
  store.Allocate(c.seed);
  // Test values of order 1 everywhere (real inits are tiny and would hide errors): matrices
  // uniform with scale 1/sqrt(fan_in), vectors (norm weights, biases) their init + noise.
  for (const auto& p : store.params()) {
    float* v = p->value.f32();
    const uint64_t stream = HashString(p->name.c_str()) + 99;
    for (int64_t i = 0; i < p->numel(); ++i) {
      const float u = 2.0f * CounterUniform(c.seed, stream, i) - 1.0f;
      v[i] = p->shape.size() >= 2 ? u * 1.5f / std::sqrt(static_cast<float>(p->shape.back()))
                                  : v[i] + 0.3f * u;
    }
  }

  // Input.
  const bool ids = c.vocab > 0;
  Tensor x = Tensor::Empty(c.in_shape, ids ? DType::kS32 : DType::kF32);
  std::vector<int32_t> id_vec;
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (ids) {
      x.s32()[i] = static_cast<int32_t>(CounterBits(c.seed, 5, i) % c.vocab);
      id_vec.push_back(x.s32()[i]);
    } else {
      x.f32()[i] = 2.0f * CounterUniform(c.seed, 5, i) - 1.0f;
    }
  }
  const ref::Vec xv = ids ? ref::Vec() : ToVec(x);
  auto ref_of = [&](const ref::Vec& xin, const ref::Params& p) {
    if (!ids) return c.ref(xin, p);
    ref::Vec as_double(id_vec.begin(), id_vec.end());
    return c.ref(as_double, p);
  };

  // 1. Forward against the reference.
  const Tensor y = layer->Forward(ctx, x, Mode::kTrain).Clone();
  const ref::Params p0 = ParamsOf(store);
  const ref::Vec yr = ref_of(xv, p0);
  ASSERT_EQ(static_cast<int64_t>(yr.size()), y.numel());
  ASSERT_EQ(layer->OutputShape(c.in_shape), y.shape());
  double ferr = 0;
  for (int64_t i = 0; i < y.numel(); ++i) ferr = std::max(ferr, std::fabs(y.f32()[i] - yr[i]));
  EXPECT_LE(ferr / std::max(MaxAbs(yr), 1e-6), c.forward_tol) << "forward vs naive reference";

  // 2. Backward of L = sum(r * y).
  Tensor r = Tensor::Empty(y.shape());
  for (int64_t i = 0; i < r.numel(); ++i) r.f32()[i] = 2.0f * CounterUniform(c.seed, 6, i) - 1.0f;
  const ref::Vec rv = ToVec(r);
  store.ZeroGrads();
  const Tensor dx_t = layer->Backward(ctx, r);
  const Tensor dx = dx_t.defined() ? dx_t.Clone() : Tensor();
  const Tensor grads = store.grads().Clone();
  auto ref_loss = [&](const ref::Vec& xin, const ref::Params& p) {
    const ref::Vec yy = ref_of(xin, p);
    double l = 0;
    for (size_t i = 0; i < yy.size(); ++i) l += rv[i] * yy[i];
    return l;
  };
  auto compare = [&](const std::string& what, const std::vector<double>& analytic,
                     const std::vector<double>& fd, double tol) {
    double err = 0, scale = 1e-4;
    for (size_t i = 0; i < fd.size(); ++i) {
      err = std::max(err, std::fabs(analytic[i] - fd[i]));
      scale = std::max(scale, std::fabs(fd[i]));
    }
    EXPECT_LE(err / scale, tol) << "gradient of " << what << ": max error " << err
                                << " at gradient scale " << scale;
  };

  // 2a. Against central differences of the double reference (tight).
  if (!ids) {
    std::vector<double> a, fd;
    for (int64_t i : Probe(x.numel(), 96, 1)) {
      ref::Vec xp = xv, xm = xv;
      const double h = 1e-5;
      xp[i] += h;
      xm[i] -= h;
      fd.push_back((ref_loss(xp, p0) - ref_loss(xm, p0)) / (2 * h));
      a.push_back(dx.f32()[i]);
    }
    compare("input (vs reference)", a, fd, c.grad_tol);
  } else {
    EXPECT_FALSE(dx.defined()) << "token-id input has no gradient";
  }
  for (const auto& p : store.params()) {
    std::vector<double> a, fd;
    for (int64_t i : Probe(p->numel(), 48, HashString(p->name.c_str()))) {
      ref::Params pp = p0, pm = p0;
      const double h = 1e-5;
      pp[p->name][i] += h;
      pm[p->name][i] -= h;
      fd.push_back((ref_loss(xv, pp) - ref_loss(xv, pm)) / (2 * h));
      a.push_back(grads.f32()[p->offset + i]);
    }
    compare(p->name + " (vs reference)", a, fd, c.grad_tol);
  }

  // 2b. Against central differences of the fp32 layer itself (loose: fp32 forward noise).
  auto layer_loss = [&](const Tensor& xin) {
    const Tensor yy = layer->Forward(ctx, xin, Mode::kTrain);
    double l = 0;
    for (int64_t i = 0; i < yy.numel(); ++i) l += rv[i] * yy.f32()[i];
    return l;
  };
  const float h32 = 1e-2f;
  if (!ids) {
    std::vector<double> a, fd;
    for (int64_t i : Probe(x.numel(), 12, 2)) {
      Tensor xp = x.Clone(), xm = x.Clone();
      xp.f32()[i] += h32;
      xm.f32()[i] -= h32;
      fd.push_back((layer_loss(xp) - layer_loss(xm)) / (2.0 * h32));
      a.push_back(dx.f32()[i]);
    }
    compare("input (vs fp32 layer)", a, fd, 3e-2);
  }
  for (const auto& p : store.params()) {
    std::vector<double> a, fd;
    for (int64_t i : Probe(p->numel(), 8, HashString(p->name.c_str()) + 1)) {
      float& v = p->value.f32()[i];
      const float saved = v;
      v = saved + h32;
      const double lp = layer_loss(x);
      v = saved - h32;
      const double lm = layer_loss(x);
      v = saved;
      fd.push_back((lp - lm) / (2.0 * h32));
      a.push_back(grads.f32()[p->offset + i]);
    }
    compare(p->name + " (vs fp32 layer)", a, fd, 3e-2);
  }

  // 3. Determinism: the same forward/backward again gives bit-identical results.
  {
    const Tensor y2 = layer->Forward(ctx, x, Mode::kTrain).Clone();
    store.ZeroGrads();
    const Tensor dx2 = layer->Backward(ctx, r);
    EXPECT_EQ(0, std::memcmp(y.raw(), y2.raw(), y.bytes())) << "forward not bit-reproducible";
    EXPECT_EQ(0, std::memcmp(grads.raw(), store.grads().raw(), grads.bytes()))
        << "param grads not bit-reproducible";
    if (dx.defined()) {
      EXPECT_EQ(0, std::memcmp(dx.raw(), dx2.raw(), dx.bytes())) << "input grad not bit-reproducible";
    }
  }

  // 4. Incremental decode equals the full forward (eval mode): a prefix in one step, then one
  // position at a time.
  if (c.check_decode && c.in_shape.size() >= 2) {
    const Tensor full = layer->Forward(ctx, x, Mode::kEval).Clone();
    const int64_t b = c.in_shape[0], t = c.in_shape[1];
    auto state = layer->NewDecodeState(b, t);
    const int64_t first = std::max<int64_t>(1, t - 3);
    std::vector<Tensor> pieces{layer->Step(ctx, SliceTime(x, 0, first), 0, state.get()).Clone()};
    for (int64_t pos = first; pos < t; ++pos)
      pieces.push_back(layer->Step(ctx, SliceTime(x, pos, pos + 1), pos, state.get()).Clone());
    double err = 0;
    const int64_t inner = full.numel() / (b * t);
    for (int64_t bi = 0; bi < b; ++bi) {
      int64_t t0 = 0;
      for (const Tensor& piece : pieces) {
        const int64_t tl = piece.dim(1);
        for (int64_t ti = 0; ti < tl; ++ti)
          for (int64_t j = 0; j < inner; ++j)
            err = std::max(err, (double)std::fabs(piece.f32()[(bi * tl + ti) * inner + j] -
                                          full.f32()[(bi * t + t0 + ti) * inner + j]));
        t0 += tl;
      }
    }
    double scale = 1e-6;
    for (int64_t i = 0; i < full.numel(); ++i) scale = std::max(scale, (double)std::fabs(full.f32()[i]));
    EXPECT_LE(err / scale, 1e-5) << "decode step differs from full forward";
  }
}

}  // namespace tinylm::testing
