#include "gated_memory.h"

#include "block_math.h"

namespace tinylm::delta_lm {

const Tensor& GatedMemory::Forward(const Tensor& qkv, PerPosition alpha, PerPosition lambda, int64_t pos,
                                   Tensor* carried) {
  const int64_t b = qkv.dim(0), t = qkv.dim(1), d = d_;
  qkv_ = qkv;
  alpha_ = alpha;
  lambda_ = lambda;
  EnsureShape(mem_, {b, t, d});
  EnsureShape(read_, {b, t, d});
  const float* pq = qkv.f32();
  float *pc = mem_.f32(), *pr = read_.f32();
#pragma omp parallel for schedule(static) if (b * d > 64)
  for (int64_t bc = 0; bc < b * d; ++bc) {
    const int64_t bi = bc / d, c = bc % d;
    double cprev = carried ? carried->f32()[bi * d + c] : 0.0;
    for (int64_t ti = 0; ti < t; ++ti) {
      const int64_t row = bi * t + ti;
      const float* qr = pq + row * 3 * d;
      const double kv = static_cast<double>(qr[d + c]) * qr[2 * d + c];
      double ct;
      if (lambda.data) {
        ct = lambda[row] * cprev + (1 - lambda[row]) * kv;
      } else {
        const double n = static_cast<double>(pos + ti + 1);
        ct = ((n - 1) * cprev + kv) / n;
      }
      pc[row * d + c] = static_cast<float>(ct);
      pr[row * d + c] = static_cast<float>(Sigmoid(qr[c]) * (ct + alpha[row] * (kv - cprev)));
      cprev = ct;
    }
    if (carried) carried->f32()[bi * d + c] = static_cast<float>(cprev);
  }
  return read_;
}

const Tensor& GatedMemory::Backward(const Tensor& dread, float* dalpha, float* dlambda, int64_t stride) {
  const int64_t b = qkv_.dim(0), t = qkv_.dim(1), d = d_;
  const float* pq = qkv_.f32();
  const float* pc = mem_.f32();
  const float* pd = dread.f32();
  EnsureShape(dqkv_, qkv_.shape());
  const PerPosition alpha = alpha_, lambda = lambda_;
  const bool decay = lambda.data != nullptr;
  EnsureShape(dalpha_parts_, {b * t, d});
  if (decay) EnsureShape(dlambda_parts_, {b * t, d});
  float *pg = dqkv_.f32(), *pa = dalpha_parts_.f32(), *pl = decay ? dlambda_parts_.f32() : nullptr;
#pragma omp parallel for schedule(static)
  for (int64_t bc = 0; bc < b * d; ++bc) {
    const int64_t bi = bc / d, c = bc % d;
    double carry = 0;  // dL/dC_t through positions after t (their C and their delta term)
    for (int64_t ti = t - 1; ti >= 0; --ti) {
      const int64_t row = bi * t + ti;
      const float* qr = pq + row * 3 * d;
      const double k = qr[d + c], v = qr[2 * d + c], kv = k * v;
      const double ct = pc[row * d + c];
      const double cprev = ti > 0 ? pc[(row - 1) * d + c] : 0.0;
      const double sq = Sigmoid(qr[c]), g = pd[row * d + c], a = alpha[row];
      pg[row * 3 * d + c] = static_cast<float>(g * (ct + a * (kv - cprev)) * sq * (1 - sq));
      pa[row * d + c] = static_cast<float>(g * sq * (kv - cprev));
      const double dct = g * sq + carry;  // the read uses C_t directly, later positions through carry
      double dkv = g * sq * a, dcprev = -g * sq * a;
      if (decay) {
        const double l = lambda[row];
        dkv += dct * (1 - l);
        dcprev += dct * l;
        pl[row * d + c] = static_cast<float>(dct * (cprev - kv));
      } else {
        const double n = static_cast<double>(ti + 1);  // C_t = ((n - 1) C_{t-1} + kv_t) / n
        dkv += dct / n;
        dcprev += dct * (n - 1) / n;
      }
      pg[row * 3 * d + d + c] = static_cast<float>(dkv * v);
      pg[row * 3 * d + 2 * d + c] = static_cast<float>(dkv * k);
      carry = dcprev;
    }
  }
  // Per-row sums over channels (kept separate from the scan so threads never share a row sum).
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < b * t; ++row) {
    double sa = 0, sl = 0;
    for (int64_t c = 0; c < d; ++c) {
      sa += pa[row * d + c];
      if (decay) sl += pl[row * d + c];
    }
    if (dalpha) dalpha[row * stride] = static_cast<float>(sa);
    if (dlambda && decay) dlambda[row * stride] = static_cast<float>(sl);
  }
  return dqkv_;
}

}  // namespace tinylm::delta_lm
