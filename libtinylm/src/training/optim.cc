#include "tinylm/training/optim.h"

#include <cmath>
#include <vector>

#include <algorithm>

namespace tinylm {

void AdamW::Step(ParamStore& store, float lr) {
  ++step_;
  store.Touch();
  const float b1 = opt_.beta1, b2 = opt_.beta2, eps = opt_.eps;
  const float bc1 = 1.0f - std::pow(b1, static_cast<float>(step_));
  const float bc2 = 1.0f - std::pow(b2, static_cast<float>(step_));
  const float step_size = lr / bc1;
  const float bc2_sqrt = std::sqrt(bc2);
  float* m = store.adam_m().f32();
  float* v = store.adam_v().f32();
  for (const auto& p : store.params()) {
    float* w = p->value.f32();
    const float* g = p->grad.f32();
    float* pm = m + p->offset;
    float* pv = v + p->offset;
    const float decay = p->decay ? 1.0f - lr * opt_.weight_decay : 1.0f;
    const int64_t n = p->numel();
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; ++i) {
      w[i] *= decay;
      pm[i] = pm[i] * b1 + g[i] * (1.0f - b1);
      pv[i] = pv[i] * b2 + g[i] * g[i] * (1.0f - b2);
      const float denom = std::sqrt(pv[i]) / bc2_sqrt + eps;
      w[i] -= step_size * (pm[i] / denom);
    }
  }
}

double ClipGradNorm(ParamStore& store, double max_norm) {
  // Sum of squares in fixed chunks, combined in order: thread-count independent.
  const Tensor& g = store.grads();
  const int64_t n = g.numel();
  const float* pg = g.f32();
  constexpr int64_t kChunk = 1 << 14;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(chunks, 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    double s = 0.0;
    const int64_t end = std::min(n, (c + 1) * kChunk);
    for (int64_t i = c * kChunk; i < end; ++i) s += static_cast<double>(pg[i]) * pg[i];
    part[c] = s;
  }
  double total = 0.0;
  for (double s : part) total += s;
  const double norm = std::sqrt(total);
  if (max_norm > 0.0) {
    const float coef = static_cast<float>(max_norm / (norm + 1e-6));
    if (coef < 1.0f) {
      float* w = g.f32();
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < n; ++i) w[i] *= coef;
    }
  }
  return norm;
}

float ScheduledLr(const ScheduleOptions& s, int64_t step) {
  if (step < s.warmup_steps) return s.lr * static_cast<float>(step + 1) / s.warmup_steps;
  const int64_t span = s.total_steps - s.warmup_steps;
  if (span <= 0 || step >= s.total_steps) return s.min_lr;
  const double progress = static_cast<double>(step - s.warmup_steps) / span;
  return static_cast<float>(s.min_lr + 0.5 * (s.lr - s.min_lr) * (1.0 + std::cos(M_PI * progress)));
}

}  // namespace tinylm
