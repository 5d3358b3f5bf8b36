#include "attention_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "tinylm/tensors/vec_math.h"
#include "tinylm/tensors/ops.h"

#include "tinylm/tensors/parallel.h"

namespace tinylm::attention_kernels {

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

namespace {

// Rows [r0, r0 + rows) of every head of a contiguous [N, T, width] tensor.
MatrixView Rows(const Tensor& t, int64_t r0, int64_t rows) {
  const int64_t n = t.dim(0), len = t.dim(1), w = t.dim(2);
  return {t.f32() + r0 * w, n, rows, w, len * w, w};
}
MatrixView Dense(const Tensor& t, int64_t n, int64_t rows, int64_t cols) { return {t.f32(), n, rows, cols, rows * cols, cols}; }

}  // namespace

void Forward(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, float scale, const Tensor& o,
             const Tensor& lse) {
  const int64_t n = q.dim(0), t = q.dim(1);
  float* plse = lse.f32();
  for (int64_t j0 = 0; j0 < t; j0 += kQueryBlock) {
    const int64_t bq = std::min(kQueryBlock, t - j0), keys = j0 + bq;  // rows j0.. see keys 0..keys-1
    const Tensor s = ctx.Workspace(0, n * bq * keys);
    MatmulOptions so;
    so.alpha = scale;
    Matmul(ctx, Rows(q, j0, bq), Rows(k, 0, keys).T(), Dense(s, n, bq, keys), so);
    float* ps = s.f32();
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n * bq; ++r) {
      const int64_t i = j0 + r % bq;  // query position: keys 0..i
      float* row = ps + r * keys;
      float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
      for (int64_t c = 0; c <= i; ++c) mx = std::max(mx, row[c]);
      float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
      for (int64_t c = 0; c <= i; ++c) {
        row[c] = VecExp(row[c] - mx);
        sum += row[c];
      }
      const float inv = 1.0f / sum;
#pragma omp simd
      for (int64_t c = 0; c <= i; ++c) row[c] *= inv;
      for (int64_t c = i + 1; c < keys; ++c) row[c] = 0.0f;
      plse[(r / bq) * t + i] = mx + std::log(sum);
    }
    Matmul(ctx, Dense(s, n, bq, keys), Rows(v, 0, keys), Rows(o, j0, bq));
  }
}

void Backward(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& o, const Tensor& lse,
              const Tensor& d_o, float scale, const Tensor& dq, const Tensor& dk, const Tensor& dv) {
  const int64_t n = q.dim(0), t = q.dim(1), hd = q.dim(2);
  // D_i = <dO_i, O_i> = sum_j P_ij dP_ij, the softmax backward's row term.
  const Tensor rowdot = ctx.Workspace(2, n * t);
  {
    const float *po = o.f32(), *pd = d_o.f32();
    float* pr = rowdot.f32();
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n * t; ++r) {
      float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
      for (int64_t c = 0; c < hd; ++c) acc += po[r * hd + c] * pd[r * hd + c];
      pr[r] = acc;
    }
  }
  dk.SetZero();
  dv.SetZero();
  const float *plse = lse.f32(), *pr = rowdot.f32();
  for (int64_t j0 = 0; j0 < t; j0 += kQueryBlock) {
    const int64_t bq = std::min(kQueryBlock, t - j0), keys = j0 + bq;
    const Tensor p = ctx.Workspace(0, n * bq * keys), dp = ctx.Workspace(1, n * bq * keys);
    MatmulOptions so;
    so.alpha = scale;
    Matmul(ctx, Rows(q, j0, bq), Rows(k, 0, keys).T(), Dense(p, n, bq, keys), so);  // scores again
    Matmul(ctx, Rows(d_o, j0, bq), Rows(v, 0, keys).T(), Dense(dp, n, bq, keys));   // dP = dO V^T
    float *pp = p.f32(), *pdp = dp.f32();
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n * bq; ++r) {
      const int64_t head = r / bq, i = j0 + r % bq;
      float* prow = pp + r * keys;
      float* drow = pdp + r * keys;
      const float l = plse[head * t + i], d = pr[head * t + i];
#pragma omp simd
      for (int64_t c = 0; c <= i; ++c) {
        prow[c] = VecExp(prow[c] - l);         // P, recomputed
        drow[c] = prow[c] * (drow[c] - d);     // dS = P (dP - D)
      }
      for (int64_t c = i + 1; c < keys; ++c) prow[c] = drow[c] = 0.0f;
    }
    MatmulOptions acc;
    acc.accumulate = true;
    Matmul(ctx, Dense(p, n, bq, keys).T(), Rows(d_o, j0, bq), Rows(dv, 0, keys), acc);  // dV += P^T dO
    MatmulOptions sq;
    sq.alpha = scale;
    Matmul(ctx, Dense(dp, n, bq, keys), Rows(k, 0, keys), Rows(dq, j0, bq), sq);  // dQ = scale dS K
    MatmulOptions sk;
    sk.alpha = scale;
    sk.accumulate = true;
    Matmul(ctx, Dense(dp, n, bq, keys).T(), Rows(q, j0, bq), Rows(dk, 0, keys), sk);  // dK += scale dS^T Q
  }
}

void ExpandHeads(const float* kv, float* expanded, int64_t b, int64_t kv_heads, int64_t heads, int64_t t, int64_t hd) {
  const int64_t g = heads / kv_heads, block = t * hd;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < heads; ++h)
      std::memcpy(expanded + (bi * heads + h) * block, kv + (bi * kv_heads + h / g) * block, block * sizeof(float));
}

void ReduceHeads(const float* expanded, float* kv, int64_t b, int64_t kv_heads, int64_t heads, int64_t t, int64_t hd) {
  const int64_t g = heads / kv_heads, block = t * hd;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t kh = 0; kh < kv_heads; ++kh) {
      float* dst = kv + (bi * kv_heads + kh) * block;
      const float* src = expanded + (bi * heads + kh * g) * block;
      std::memcpy(dst, src, block * sizeof(float));
      for (int64_t m = 1; m < g; ++m)
#pragma omp simd
        for (int64_t e = 0; e < block; ++e) dst[e] += src[m * block + e];
    }
}

void AttendCached(const float* q, const float* k_cache, const float* v_cache, float* out, int64_t b, int64_t heads,
                  int64_t kv_heads, int64_t t, int64_t hd, int64_t max_len, int64_t pos, float scale) {
  const int64_t g = heads / kv_heads;
  ParallelFor(b * heads, 2 * 16, [&](int64_t bh) {  // batch-1 decode: a plain loop, no OpenMP
    const int64_t bi = bh / heads, h = bh % heads, kvh = h / g;
    const float* kb = k_cache + (bi * kv_heads + kvh) * max_len * hd;
    const float* vb = v_cache + (bi * kv_heads + kvh) * max_len * hd;
    float w[512];  // scores of one query in chunks, so no allocation per call
    for (int64_t ti = 0; ti < t; ++ti) {
      const float* qi = q + ((bi * heads + h) * t + ti) * hd;
      float* o = out + (bi * t + ti) * heads * hd + h * hd;
      const int64_t n = pos + ti + 1;
      // Online softmax over chunks of keys (as the blocked training kernel): running max m,
      // running sum l, output rescaled when the max grows.
      float m = -std::numeric_limits<float>::infinity(), l = 0.0f;
      for (int64_t c = 0; c < hd; ++c) o[c] = 0.0f;
      for (int64_t j0 = 0; j0 < n; j0 += 512) {
        const int64_t len = std::min<int64_t>(512, n - j0);
        DotRows(qi, kb + j0 * hd, len, hd, w);
        float mx = m;
        for (int64_t j = 0; j < len; ++j) {
          w[j] *= scale;
          mx = std::max(mx, w[j]);
        }
        const float rescale = VecExp(m - mx);  // 0 on the first chunk (m = -inf)
        l *= rescale;
#pragma omp simd
        for (int64_t c = 0; c < hd; ++c) o[c] *= rescale;
        for (int64_t j = 0; j < len; ++j) {
          const float pj = VecExp(w[j] - mx);
          l += pj;
          const float* vj = vb + (j0 + j) * hd;
#pragma omp simd
          for (int64_t c = 0; c < hd; ++c) o[c] += pj * vj[c];
        }
        m = mx;
      }
      const float inv = 1.0f / l;
#pragma omp simd
      for (int64_t c = 0; c < hd; ++c) o[c] *= inv;
    }
  });
}

void AppendToCache(const float* src, float* cache, int64_t b, int64_t kv_heads, int64_t t, int64_t hd,
                   int64_t max_len, int64_t pos) {
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < kv_heads; ++h)
      std::memcpy(cache + ((bi * kv_heads + h) * max_len + pos) * hd, src + (bi * kv_heads + h) * t * hd,
                  t * hd * sizeof(float));
}

}  // namespace tinylm::attention_kernels
