#include "tinylm/layers/elementwise.h"

#include <stdexcept>

#include "tinylm/tensors/ops.h"
#include "tinylm/tensors/rng.h"

namespace tinylm {

Tensor Activation::Forward(Context& ctx, const Tensor& x, Mode mode) {
  Tensor y = ctx.Pooled(x.shape());
  EltwiseForward(ctx, alg_, alpha_, x, y);
  x_ = mode == Mode::kTrain ? x : Tensor();
  elements_ = y.numel();
  return y;
}

Tensor Activation::Backward(Context& ctx, const Tensor& dy) {
  Tensor dx = ctx.Pooled(x_.shape());
  EltwiseBackward(ctx, alg_, alpha_, x_, dy, dx);
  x_ = Tensor();
  return dx;
}

Dropout::Dropout(const std::string& name, float p) : p_(p), id_(HashString(name.c_str())) {
  if (p < 0.0f || p >= 1.0f) throw std::invalid_argument(name + ": dropout p must be in [0, 1)");
}

Tensor Dropout::Forward(Context& ctx, const Tensor& x, Mode mode) {
  active_ = mode == Mode::kTrain && p_ > 0.0f;
  if (!active_) return x;
  const int64_t n = x.numel();
  EnsureShape(mask_, x.shape());
  Tensor y = ctx.Pooled(x.shape());
  elements_ = n;
  const float keep_scale = 1.0f / (1.0f - p_);
  const uint64_t stream = id_ ^ (ctx.step() * 0x9e3779b97f4a7c15ULL);
  const uint64_t seed = ctx.seed(), first = ctx.DropoutCounter(n);
  const float* px = x.f32();
  float* pm = mask_.f32();
  float* py = y.f32();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    pm[i] = CounterUniform(seed, stream, first + i) >= p_ ? keep_scale : 0.0f;
    py[i] = px[i] * pm[i];
  }
  return y;
}

Tensor Dropout::Backward(Context& ctx, const Tensor& dy) {
  if (!active_) return dy;
  Tensor dx = ctx.Pooled(dy.shape());
  const float* pm = mask_.f32();
  const float* pg = dy.f32();
  float* pd = dx.f32();
  const int64_t n = dy.numel();
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) pd[i] = pg[i] * pm[i];
  return dx;
}

}  // namespace tinylm
