// Small element-wise helpers shared by the delta blocks (residual gates and their gradients).
// Plain loops: these tensors are [B, T, d] with d <= 256, far cheaper than the matmuls around them.
#pragma once

#include <cmath>
#include <cstdint>

#include "tinylm/layers/layer.h"
#include "tinylm/tensors/tensor.h"

namespace tinylm::delta_lm {

inline double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// out = x + a * y.
inline void AddScaled(const Tensor& x, float a, const Tensor& y, Tensor& out) {
  EnsureShape(out, x.shape());
  const float *px = x.f32(), *py = y.f32();
  float* po = out.f32();
  for (int64_t i = 0, n = x.numel(); i < n; ++i) po[i] = px[i] + a * py[i];
}

// out = a * x; returns out.
inline const Tensor& Scaled(const Tensor& x, float a, Tensor& out) {
  EnsureShape(out, x.shape());
  const float* px = x.f32();
  float* po = out.f32();
  for (int64_t i = 0, n = x.numel(); i < n; ++i) po[i] = a * px[i];
  return out;
}

// sum_i a_i b_i, accumulated in double.
inline double Dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  const float *pa = a.f32(), *pb = b.f32();
  for (int64_t i = 0, n = a.numel(); i < n; ++i) s += static_cast<double>(pa[i]) * pb[i];
  return s;
}

// Per-row gates: out[r, :] = x[r, :] + g[r * stride] * y[r, :] for rows of width d.
inline void AddRowScaled(const Tensor& x, const float* g, int64_t stride, const Tensor& y, Tensor& out) {
  EnsureShape(out, x.shape());
  const int64_t d = x.shape().back(), rows = x.numel() / d;
  const float *px = x.f32(), *py = y.f32();
  float* po = out.f32();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < d; ++c) po[r * d + c] = px[r * d + c] + g[r * stride] * py[r * d + c];
}

// out[r, :] = g[r * stride] * x[r, :]; returns out.
inline const Tensor& RowScaled(const Tensor& x, const float* g, int64_t stride, Tensor& out) {
  EnsureShape(out, x.shape());
  const int64_t d = x.shape().back(), rows = x.numel() / d;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < d; ++c) out.f32()[r * d + c] = g[r * stride] * x.f32()[r * d + c];
  return out;
}

// Row dot products: out[r * stride] = sum_c a[r, c] b[r, c].
inline void RowDots(const Tensor& a, const Tensor& b, float* out, int64_t stride) {
  const int64_t d = a.shape().back(), rows = a.numel() / d;
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0;
    for (int64_t c = 0; c < d; ++c) s += static_cast<double>(a.f32()[r * d + c]) * b.f32()[r * d + c];
    out[r * stride] = static_cast<float>(s);
  }
}

}  // namespace tinylm::delta_lm
