#include "quantize.h"

#include <algorithm>
#include <cmath>

namespace tinylm::bitnet {

float QuantizeWeightsTernary(const float* w, int64_t n, float* out) {
  double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) sum += std::fabs(w[i]);
  const float g = std::max(static_cast<float>(sum / static_cast<double>(n)), 1e-5f);
  const float inv = 1.0f / g;  // torch: scale = 1 / g; (w * scale).round().clamp(-1, 1) / scale
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) out[i] = std::clamp(std::nearbyint(w[i] * inv), -1.0f, 1.0f) / inv;
  return g;
}

void QuantizeActivationRows(const float* x, int64_t rows, int64_t cols, int bits, float* out) {
  const float qmax = static_cast<float>((1 << (bits - 1)) - 1);
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* o = out + r * cols;
    float mx = 0.0f;
    for (int64_t c = 0; c < cols; ++c) mx = std::max(mx, std::fabs(xr[c]));
    const float s = qmax / std::max(mx, 1e-5f);
    for (int64_t c = 0; c < cols; ++c) o[c] = std::clamp(std::nearbyint(xr[c] * s), -qmax - 1.0f, qmax) / s;
  }
}

}  // namespace tinylm::bitnet
