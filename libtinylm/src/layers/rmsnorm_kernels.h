// The RMSNorm row kernels, shared by the RmsNorm layer and the fn::RmsNorm graph op (one
// implementation: the two cannot drift apart). Rows of d floats; `w` may be null (no weight).
#pragma once
#include <cstdint>

namespace tinylm::rmsnorm {

// y = x * rstd * w per row; rstd[row] = 1 / sqrt(mean(x^2) + eps) (kept for backward).
void Forward(const float* x, const float* w, int64_t rows, int64_t d, float eps, float* y, float* rstd);
// dx = rstd * (g*w - xhat * mean(g*w*xhat)), xhat = x * rstd; added to dx when `accumulate`.
void BackwardInput(const float* x, const float* g, const float* w, const float* rstd, int64_t rows, int64_t d,
                   float* dx, bool accumulate);
// dw += sum over rows of g * xhat (a fixed-order chunked reduction: thread-count independent).
void AccumulateWeightGrad(const float* x, const float* g, const float* rstd, int64_t rows, int64_t d, float* dw);

}  // namespace tinylm::rmsnorm
