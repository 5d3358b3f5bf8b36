#include "quantize.h"

#include <algorithm>
#include <cmath>

#include "tinylm/tensors/parallel.h"

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

namespace {
// One row's absmax scale s = qmax / max(max|x|, 1e-5), shared by both forms of the quantiser.
inline float RowScale(const float* x, int64_t cols, float qmax) {
  float mx = 0.0f;
  for (int64_t c = 0; c < cols; ++c) mx = std::max(mx, std::fabs(x[c]));
  return qmax / std::max(mx, 1e-5f);
}
inline float Level(float x, float s, float qmax) { return std::clamp(std::nearbyint(x * s), -qmax - 1.0f, qmax); }
}  // namespace

void QuantizeActivationRows(const float* x, int64_t rows, int64_t cols, int bits, float* out) {
  const float qmax = static_cast<float>((1 << (bits - 1)) - 1);
  ParallelFor(rows, std::max<int64_t>(2, 65536 / cols), [&](int64_t r) {
    const float* xr = x + r * cols;
    float* o = out + r * cols;
    const float s = RowScale(xr, cols, qmax);
    for (int64_t c = 0; c < cols; ++c) o[c] = Level(xr[c], s, qmax) / s;
  });
}

void QuantizeActivationRowsToBytes(const float* x, int64_t rows, int64_t cols, int bits, int64_t stride,
                                   uint8_t* out, float* scales) {
  const float qmax = static_cast<float>((1 << (bits - 1)) - 1);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    uint8_t* o = out + r * stride;
    const float s = RowScale(xr, cols, qmax);
    scales[r] = s;
    for (int64_t c = 0; c < cols; ++c) o[c] = static_cast<uint8_t>(static_cast<int32_t>(Level(xr[c], s, qmax)) + 128);
    for (int64_t c = cols; c < stride; ++c) o[c] = 128;
  }
}

}  // namespace tinylm::bitnet
