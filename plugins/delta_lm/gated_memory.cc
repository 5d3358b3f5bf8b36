#include "gated_memory.h"

#include <vector>

#include "block_math.h"
#include "tinylm/tensors/parallel.h"
#include "tinylm/tensors/vec_math.h"

namespace tinylm::delta_lm {

// The scans run over time per sequence, each step one vectorised pass over the d channels of a
// row (contiguous memory): parallel over sequences. The recurrence stays in double.
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
  ParallelFor(b, 2, [&](int64_t bi) {
    std::vector<double> cprev(d, 0.0);
    if (carried)
      for (int64_t c = 0; c < d; ++c) cprev[c] = carried->f32()[bi * d + c];
    double* cp = cprev.data();
    for (int64_t ti = 0; ti < t; ++ti) {
      const int64_t row = bi * t + ti;
      const float *q = pq + row * 3 * d, *k = q + d, *v = q + 2 * d;
      float *crow = pc + row * d, *rrow = pr + row * d;
      const double a = alpha[row];
      // C_t = l C_{t-1} + (1 - l) kv, or the running mean ((n - 1) C_{t-1} + kv) / n.
      const double keep = lambda.data ? lambda[row] : static_cast<double>(pos + ti) / (pos + ti + 1);
      const double add = 1.0 - keep;
#pragma omp simd
      for (int64_t c = 0; c < d; ++c) {
        const double kv = static_cast<double>(k[c]) * v[c];
        const double ct = keep * cp[c] + add * kv;
        crow[c] = static_cast<float>(ct);
        rrow[c] = static_cast<float>(VecSigmoid(q[c]) * (ct + a * (kv - cp[c])));
        cp[c] = ct;
      }
    }
    if (carried)
      for (int64_t c = 0; c < d; ++c) carried->f32()[bi * d + c] = static_cast<float>(cp[c]);
  });
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
  ParallelFor(b, 2, [&](int64_t bi) {
    std::vector<double> carry_v(d, 0.0);  // dL/dC_t through positions after t
    double* carry = carry_v.data();
    for (int64_t ti = t - 1; ti >= 0; --ti) {
      const int64_t row = bi * t + ti;
      const float *q = pq + row * 3 * d, *k = q + d, *v = q + 2 * d;
      const float* crow = pc + row * d;
      const float* cprow = ti > 0 ? crow - d : nullptr;
      const float* g = pd + row * d;
      float *gq = pg + row * 3 * d, *gk = gq + d, *gv = gq + 2 * d;
      float* arow = pa + row * d;
      float* lrow = decay ? pl + row * d : nullptr;
      const double a = alpha[row];
      const double l = decay ? lambda[row] : static_cast<double>(ti) / (ti + 1);  // C_t = l C_{t-1} + (1-l) kv
#pragma omp simd
      for (int64_t c = 0; c < d; ++c) {
        const double kv = static_cast<double>(k[c]) * v[c];
        const double ct = crow[c], cprev = cprow ? cprow[c] : 0.0;
        const double sq = VecSigmoid(q[c]), gs = g[c] * sq;
        gq[c] = static_cast<float>(g[c] * (ct + a * (kv - cprev)) * sq * (1 - sq));
        arow[c] = static_cast<float>(gs * (kv - cprev));
        const double dct = gs + carry[c];  // the read uses C_t directly, later positions through carry
        const double dkv = gs * a + dct * (1 - l);
        if (decay) lrow[c] = static_cast<float>(dct * (cprev - kv));
        gk[c] = static_cast<float>(dkv * v[c]);
        gv[c] = static_cast<float>(dkv * k[c]);
        carry[c] = -gs * a + dct * l;
      }
    }
  });
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
