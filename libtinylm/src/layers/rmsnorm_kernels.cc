#include "rmsnorm_kernels.h"

#include <cmath>

#include "../tensors/chunked_reduce.h"

#include "tinylm/tensors/parallel.h"

namespace tinylm::rmsnorm {

void Forward(const float* x, const float* w, int64_t rows, int64_t d, float eps, float* y, float* rstd) {
  ParallelFor(rows, 65, [&](int64_t r) {
    const float* xr = x + r * d;
    float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
    for (int64_t j = 0; j < d; ++j) ss += xr[j] * xr[j];
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(d) + eps);
    rstd[r] = inv;
    float* yr = y + r * d;
    if (w) {
#pragma omp simd
      for (int64_t j = 0; j < d; ++j) yr[j] = xr[j] * inv * w[j];
    } else {
#pragma omp simd
      for (int64_t j = 0; j < d; ++j) yr[j] = xr[j] * inv;
    }
  });
}

namespace {
template <bool kWeighted, bool kAccumulate>
void BackwardRows(const float* x, const float* g, const float* w, const float* rstd, int64_t rows, int64_t d,
                  float* dx) {
  ParallelFor(rows, 65, [&](int64_t r) {
    const float *xr = x + r * d, *gr = g + r * d;
    const float inv = rstd[r];
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < d; ++j) dot += gr[j] * (kWeighted ? w[j] : 1.0f) * xr[j];
    const float c = dot * inv * inv / static_cast<float>(d);
    float* dxr = dx + r * d;
#pragma omp simd
    for (int64_t j = 0; j < d; ++j) {
      const float v = inv * (gr[j] * (kWeighted ? w[j] : 1.0f) - xr[j] * c);
      dxr[j] = kAccumulate ? dxr[j] + v : v;
    }
  });
}
}  // namespace

void BackwardInput(const float* x, const float* g, const float* w, const float* rstd, int64_t rows, int64_t d,
                   float* dx, bool accumulate) {
  if (w) {
    accumulate ? BackwardRows<true, true>(x, g, w, rstd, rows, d, dx) : BackwardRows<true, false>(x, g, w, rstd, rows, d, dx);
  } else {
    accumulate ? BackwardRows<false, true>(x, g, w, rstd, rows, d, dx) : BackwardRows<false, false>(x, g, w, rstd, rows, d, dx);
  }
}

void AccumulateWeightGrad(const float* x, const float* g, const float* rstd, int64_t rows, int64_t d, float* dw) {
  ChunkedColumnReduce(rows, d, dw, [&](int64_t r0, int64_t r1, float* part) {
    for (int64_t r = r0; r < r1; ++r) {
      const float *xr = x + r * d, *gr = g + r * d;
      const float inv = rstd[r];
#pragma omp simd
      for (int64_t j = 0; j < d; ++j) part[j] += gr[j] * xr[j] * inv;
    }
  });
}

}  // namespace tinylm::rmsnorm
