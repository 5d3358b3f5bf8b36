#include "tinylm/model/loss.h"

#include "tinylm/tensors/vec_math.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace tinylm {

LossResult CrossEntropy(const Tensor& logits, const Tensor& targets, const Tensor& weights,
                        const Tensor& dlogits, double normalizer) {
  const int64_t v = logits.dim(-1), n = logits.numel() / v;
  if (targets.numel() != n)
    throw std::invalid_argument("cross_entropy: " + std::to_string(targets.numel()) +
                                " targets for " + std::to_string(n) + " rows of logits");
  if (weights.defined() && weights.numel() != n)
    throw std::invalid_argument("cross_entropy: weights length mismatch");
  const float* z = logits.f32();
  const int32_t* y = targets.s32();
  const float* w = weights.defined() ? weights.f32() : nullptr;
  for (int64_t i = 0; i < n; ++i)
    if (y[i] < 0 || y[i] >= v)
      throw std::out_of_range("cross_entropy: target " + std::to_string(y[i]) +
                              " outside vocabulary of " + std::to_string(v));

  // Per-row results, reduced serially in row order afterwards: deterministic for any threads.
  std::vector<double> ce(n);
  std::vector<float> lse(n);
  std::vector<uint8_t> hit(n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float* zi = z + i * v;
    float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < v; ++j) mx = std::max(mx, zi[j]);
    // First maximum; none when the row holds only NaNs (a diverged model: the loss is then NaN
    // and reported as a divergence, never an out-of-bounds read).
    int64_t arg = 0;
    while (arg < v && !(zi[arg] == mx)) ++arg;
    if (arg == v) arg = -1;
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < v; ++j) s += VecExp(zi[j] - mx);
    lse[i] = mx + std::log(s);
    ce[i] = static_cast<double>(lse[i]) - zi[y[i]];
    hit[i] = arg == y[i];
  }
  LossResult r;
  double wsum = 0.0, wce = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double wi = w ? w[i] : 1.0;
    wsum += wi;
    wce += wi * ce[i];
    if (wi > 0.0) {
      r.ce_sum += ce[i];
      r.count++;
      r.correct += hit[i];
    }
  }
  r.weight_sum = wsum;
  if (normalizer > 0.0) wsum = normalizer;
  r.loss = wsum > 0.0 ? wce / wsum : 0.0;
  if (dlogits.defined()) {
    // dL/dz_ij = w_i / W * (softmax_ij - [j == y_i])
    float* g = dlogits.f32();
    const float inv_w = wsum > 0.0 ? static_cast<float>(1.0 / wsum) : 0.0f;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float* zi = z + i * v;
      float* gi = g + i * v;
      const float scale = (w ? w[i] : 1.0f) * inv_w;
      const float l = lse[i];
#pragma omp simd
      for (int64_t j = 0; j < v; ++j) gi[j] = scale * VecExp(zi[j] - l);
      gi[y[i]] -= scale;
    }
  }
  return r;
}

}  // namespace tinylm
