#include "tinylm/layers/rmsnorm.h"

#include <cmath>
#include <stdexcept>

#include "../tensors/chunked_reduce.h"

namespace tinylm {

RmsNorm::RmsNorm(ParamStore& store, const std::string& name, int64_t dim, float eps)
    : dim_(dim), eps_(eps) {
  weight_ = store.Declare(name + ".weight", {dim}, Init::Constant(1.0f), false);
}

Tensor RmsNorm::Forward(Context&, const Tensor& x, Mode mode) {
  if (x.dim(-1) != dim_)
    throw std::invalid_argument("rmsnorm: input " + ShapeString(x.shape()) + ", expected last dim " +
                                std::to_string(dim_));
  const int64_t rows = x.numel() / dim_, d = dim_;
  EnsureShape(y_, x.shape());
  EnsureShape(rstd_, {rows});
  const float* px = x.f32();
  const float* w = weight_->value.f32();
  float* py = y_.f32();
  float* rs = rstd_.f32();
#pragma omp parallel for schedule(static) if (rows > 64)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = px + r * d;
    float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
    for (int64_t j = 0; j < d; ++j) ss += xr[j] * xr[j];
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(d) + eps_);
    rs[r] = inv;
    float* yr = py + r * d;
#pragma omp simd
    for (int64_t j = 0; j < d; ++j) yr[j] = xr[j] * inv * w[j];
  }
  if (mode == Mode::kTrain) x_ = x;
  return y_;
}

Tensor RmsNorm::Backward(Context&, const Tensor& dy) {
  const int64_t rows = x_.numel() / dim_, d = dim_;
  EnsureShape(dx_, x_.shape());
  const float* px = x_.f32();
  const float* pg = dy.f32();
  const float* w = weight_->value.f32();
  const float* rs = rstd_.f32();
  float* pdx = dx_.f32();
  // dx = r * (g*w - xhat * mean(g*w*xhat)),  xhat = x * r
#pragma omp parallel for schedule(static) if (rows > 64)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = px + r * d;
    const float* gr = pg + r * d;
    const float inv = rs[r];
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < d; ++j) dot += gr[j] * w[j] * xr[j];
    const float c = dot * inv * inv / static_cast<float>(d);
    float* dxr = pdx + r * d;
#pragma omp simd
    for (int64_t j = 0; j < d; ++j) dxr[j] = inv * (gr[j] * w[j] - xr[j] * c);
  }
  // dw += sum_rows g * xhat
  ChunkedColumnReduce(rows, d, weight_->grad.f32(), [&](int64_t r0, int64_t r1, float* part) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = px + r * d;
      const float* gr = pg + r * d;
      const float inv = rs[r];
#pragma omp simd
      for (int64_t j = 0; j < d; ++j) part[j] += gr[j] * xr[j] * inv;
    }
  });
  return dx_;
}

}  // namespace tinylm
