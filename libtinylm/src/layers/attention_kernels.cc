#include "attention_kernels.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "../tensors/vec_math.h"
#include "tinylm/tensors/ops.h"

namespace tinylm::attention_kernels {
namespace {

// In-place causal softmax over rows of [G, g*T, T] where row r of a group belongs to query
// position r % T. Masked entries become exactly 0.
void CausalSoftmax(float* s, int64_t rows, int64_t t) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = r % t;
    float* row = s + r * t;
    float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j <= i; ++j) mx = std::max(mx, row[j]);
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j <= i; ++j) {
      row[j] = VecExp(row[j] - mx);
      sum += row[j];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t j = 0; j <= i; ++j) row[j] *= inv;
    for (int64_t j = i + 1; j < t; ++j) row[j] = 0.0f;
  }
}

}  // namespace

void PermuteHeads(const float* src, float* dst, int64_t b, int64_t heads, int64_t t, int64_t hd,
                  bool to_heads_first) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t ti = 0; ti < t; ++ti) {
        const int64_t tokens_first = ((bi * t + ti) * heads + h) * hd;
        const int64_t heads_first = ((bi * heads + h) * t + ti) * hd;
        std::memcpy(dst + (to_heads_first ? heads_first : tokens_first),
                    src + (to_heads_first ? tokens_first : heads_first), hd * sizeof(float));
      }
}

void Forward(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, float scale, const Tensor& probs,
             const Tensor& o) {
  const int64_t groups = k.dim(0), t = k.dim(1), rows = q.dim(1);
  MatmulOptions s;
  s.trans_b = true;
  s.alpha = scale;
  Matmul(ctx, q, k, probs, s);
  CausalSoftmax(probs.f32(), groups * rows, t);
  Matmul(ctx, probs, v, o);
}

void Backward(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& probs,
              const Tensor& d_o, float scale, const Tensor& dprobs, const Tensor& dq, const Tensor& dk,
              const Tensor& dv) {
  const int64_t groups = k.dim(0), t = k.dim(1), rows = q.dim(1);
  // dV = P^T dO ; dP = dO V^T
  MatmulOptions ta;
  ta.trans_a = true;
  Matmul(ctx, probs, d_o, dv, ta);
  MatmulOptions tb;
  tb.trans_b = true;
  Matmul(ctx, d_o, v, dprobs, tb);
  // dS = P * (dP - rowsum(dP * P)); masked entries have P = 0 so dS = 0 there.
  const float* pp = probs.f32();
  float* pds = dprobs.f32();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < groups * rows; ++r) {
    const int64_t i = r % t;  // query position
    const float* prow = pp + r * t;
    float* drow = pds + r * t;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j <= i; ++j) dot += prow[j] * drow[j];
#pragma omp simd
    for (int64_t j = 0; j <= i; ++j) drow[j] = prow[j] * (drow[j] - dot);
    for (int64_t j = i + 1; j < t; ++j) drow[j] = 0.0f;
  }
  // dQ = scale * dS K ; dK = scale * dS^T Q
  MatmulOptions sq;
  sq.alpha = scale;
  Matmul(ctx, dprobs, k, dq, sq);
  MatmulOptions sk;
  sk.alpha = scale;
  sk.trans_a = true;
  Matmul(ctx, dprobs, q, dk, sk);
}

void AttendCached(const float* q, const float* k_cache, const float* v_cache, float* out, int64_t b, int64_t heads,
                  int64_t kv_heads, int64_t t, int64_t hd, int64_t max_len, int64_t pos, float scale) {
  const int64_t g = heads / kv_heads;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t kvh = h / g;
      const float* kb = k_cache + (bi * kv_heads + kvh) * max_len * hd;
      const float* vb = v_cache + (bi * kv_heads + kvh) * max_len * hd;
      std::vector<float> w(pos + t);
      for (int64_t ti = 0; ti < t; ++ti) {
        const float* qi = q + ((bi * heads + h) * t + ti) * hd;
        const int64_t n = pos + ti + 1;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < n; ++j) {
          float dot = 0.0f;
          for (int64_t c = 0; c < hd; ++c) dot += qi[c] * kb[j * hd + c];
          w[j] = dot * scale;
          mx = std::max(mx, w[j]);
        }
        float sum = 0.0f;
        for (int64_t j = 0; j < n; ++j) sum += (w[j] = VecExp(w[j] - mx));
        float* o = out + (bi * t + ti) * heads * hd + h * hd;
        for (int64_t c = 0; c < hd; ++c) o[c] = 0.0f;
        for (int64_t j = 0; j < n; ++j) {
          const float pj = w[j] / sum;
          for (int64_t c = 0; c < hd; ++c) o[c] += pj * vb[j * hd + c];
        }
      }
    }
}

void AppendToCache(const float* src, float* cache, int64_t b, int64_t kv_heads, int64_t t, int64_t hd,
                   int64_t max_len, int64_t pos) {
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < kv_heads; ++h)
      std::memcpy(cache + ((bi * kv_heads + h) * max_len + pos) * hd, src + (bi * kv_heads + h) * t * hd,
                  t * hd * sizeof(float));
}

}  // namespace tinylm::attention_kernels
