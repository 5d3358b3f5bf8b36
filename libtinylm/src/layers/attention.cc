#include "tinylm/layers/attention.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "tinylm/ops.h"
#include "../vec_math.h"

namespace tinylm {

namespace {
// KV cache for incremental decoding: keys (normed, rotated) and values, [B, Hkv, max_len, hd].
struct KvCache : DecodeState {
  Tensor k, v;
  int64_t len = 0;
};
}  // namespace

Attention::Attention(ParamStore& store, const std::string& name, int64_t dim,
                     AttentionOptions opt)
    : dim_(dim), heads_(opt.heads), kv_heads_(opt.kv_heads ? opt.kv_heads : opt.heads), opt_(opt) {
  if (heads_ <= 0 || dim % heads_ != 0)
    throw std::invalid_argument(name + ": d_model " + std::to_string(dim) +
                                " not divisible by heads " + std::to_string(heads_));
  if (heads_ % kv_heads_ != 0)
    throw std::invalid_argument(name + ": heads " + std::to_string(heads_) +
                                " not divisible by kv_heads " + std::to_string(kv_heads_));
  head_dim_ = dim / heads_;
  const int64_t qkv_out = (heads_ + 2 * kv_heads_) * head_dim_;
  const ProjectionFactory project = opt.projection ? opt.projection : LinearProjection(opt.init_std);
  qkv_ = project(store, name + ".qkv", dim, qkv_out, opt.bias,
                 {heads_ * head_dim_, kv_heads_ * head_dim_, kv_heads_ * head_dim_});
  if (opt.qk_norm) {
    q_norm_ = std::make_unique<RmsNorm>(store, name + ".q_norm", head_dim_, opt.qk_norm_eps);
    k_norm_ = std::make_unique<RmsNorm>(store, name + ".k_norm", head_dim_, opt.qk_norm_eps);
  }
  if (opt.rope) rope_ = std::make_unique<Rope>(head_dim_, opt.rope_options);
  proj_ = project(store, name + ".proj", heads_ * head_dim_, dim, opt.bias, {});
}

std::vector<Param*> Attention::Params() const {
  std::vector<Param*> p = qkv_->Params();
  if (q_norm_) {
    AppendUnique(p, q_norm_->Params());
    AppendUnique(p, k_norm_->Params());
  }
  AppendUnique(p, proj_->Params());
  return p;
}

void Attention::Split(const Tensor& qkv, int64_t b, int64_t t) {
  const int64_t hd = head_dim_, hq = heads_, hk = kv_heads_;
  const int64_t row = (hq + 2 * hk) * hd;
  EnsureShape(q_, {b, hq, t, hd});
  EnsureShape(k_, {b, hk, t, hd});
  EnsureShape(v_, {b, hk, t, hd});
  const float* src = qkv.f32();
  float *q = q_.f32(), *k = k_.f32(), *v = v_.f32();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t ti = 0; ti < t; ++ti) {
      const float* r = src + (bi * t + ti) * row;
      for (int64_t h = 0; h < hq; ++h)
        std::memcpy(q + ((bi * hq + h) * t + ti) * hd, r + h * hd, hd * sizeof(float));
      for (int64_t h = 0; h < hk; ++h) {
        std::memcpy(k + ((bi * hk + h) * t + ti) * hd, r + (hq + h) * hd, hd * sizeof(float));
        std::memcpy(v + ((bi * hk + h) * t + ti) * hd, r + (hq + hk + h) * hd, hd * sizeof(float));
      }
    }
}

void Attention::Merge(const Tensor& dq, const Tensor& dk, const Tensor& dv, Tensor& dqkv,
                      int64_t b, int64_t t) {
  const int64_t hd = head_dim_, hq = heads_, hk = kv_heads_;
  const int64_t row = (hq + 2 * hk) * hd;
  EnsureShape(dqkv, {b, t, row});
  float* dst = dqkv.f32();
  const float *q = dq.f32(), *k = dk.f32(), *v = dv.f32();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t ti = 0; ti < t; ++ti) {
      float* r = dst + (bi * t + ti) * row;
      for (int64_t h = 0; h < hq; ++h)
        std::memcpy(r + h * hd, q + ((bi * hq + h) * t + ti) * hd, hd * sizeof(float));
      for (int64_t h = 0; h < hk; ++h) {
        std::memcpy(r + (hq + h) * hd, k + ((bi * hk + h) * t + ti) * hd, hd * sizeof(float));
        std::memcpy(r + (hq + hk + h) * hd, v + ((bi * hk + h) * t + ti) * hd, hd * sizeof(float));
      }
    }
}

void Attention::PrepareQK(Context& ctx, int64_t b, int64_t t, int64_t pos0, Mode mode) {
  const int64_t hd = head_dim_;
  if (q_norm_) {
    // The norms keep their input for backward, so the pre-norm q, k move to q_pre_/k_pre_
    // (a buffer swap, no copy) and q_/k_ receive the normed values.
    std::swap(q_, q_pre_);
    std::swap(k_, k_pre_);
    EnsureShape(q_, q_pre_.shape()).CopyFrom(
        q_norm_->Forward(ctx, q_pre_.Reshape({b * heads_ * t, hd}), mode));
    EnsureShape(k_, k_pre_.shape()).CopyFrom(
        k_norm_->Forward(ctx, k_pre_.Reshape({b * kv_heads_ * t, hd}), mode));
  }
  if (rope_) {
    rope_->Apply(q_.f32(), b, t, heads_, heads_ * t * hd, hd, t * hd, pos0, false);
    rope_->Apply(k_.f32(), b, t, kv_heads_, kv_heads_ * t * hd, hd, t * hd, pos0, false);
  }
}

namespace {
// Moves rows of hd floats between [B, T, H, hd] ("tokens first", as projections see them) and
// [B, H, T, hd] ("heads first", one contiguous matrix per head for batched matmuls).
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

// In-place causal softmax over rows of [G, rows_per_group = g*T, T] where row r of a group
// belongs to query position r % T. Masked entries become exactly 0.
void CausalSoftmax(float* s, int64_t groups, int64_t g, int64_t t) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t gi = 0; gi < groups * g; ++gi)
    for (int64_t i = 0; i < t; ++i) {
      float* row = s + (gi * t + i) * t;
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

Tensor Attention::Forward(Context& ctx, const Tensor& x, Mode mode) {
  if (x.rank() != 3 || x.dim(2) != dim_)
    throw std::invalid_argument("attention: input " + ShapeString(x.shape()) + ", expected [B,T," +
                                std::to_string(dim_) + "]");
  const int64_t b = x.dim(0), t = x.dim(1), hd = head_dim_;
  const int64_t g = heads_ / kv_heads_, groups = b * kv_heads_;
  Split(qkv_->Forward(ctx, x, mode), b, t);
  PrepareQK(ctx, b, t, 0, mode);

  EnsureShape(probs_, {groups, g * t, t});
  MatmulOptions s;
  s.trans_b = true;
  s.alpha = 1.0f / std::sqrt(static_cast<float>(hd));
  Matmul(ctx, q_.Reshape({groups, g * t, hd}), k_.Reshape({groups, t, hd}), probs_, s);
  CausalSoftmax(probs_.f32(), groups, g, t);

  EnsureShape(o_, {b, heads_, t, hd});
  Matmul(ctx, probs_, v_.Reshape({groups, t, hd}), o_.Reshape({groups, g * t, hd}));
  EnsureShape(merged_, {b, t, heads_ * hd});
  PermuteHeads(o_.f32(), merged_.f32(), b, heads_, t, hd, /*to_heads_first=*/false);
  return proj_->Forward(ctx, merged_, mode);
}

Tensor Attention::Backward(Context& ctx, const Tensor& dy) {
  const int64_t b = dy.dim(0), t = dy.dim(1), hd = head_dim_;
  const int64_t g = heads_ / kv_heads_, groups = b * kv_heads_;
  const Tensor dmerged = proj_->Backward(ctx, dy);
  EnsureShape(dmerged_, {b, heads_, t, hd});  // dO in head-first layout
  PermuteHeads(dmerged.f32(), dmerged_.f32(), b, heads_, t, hd, /*to_heads_first=*/true);
  const Tensor d_o = dmerged_.Reshape({groups, g * t, hd});

  // dV = P^T dO ; dP = dO V^T
  EnsureShape(dv_, {b, kv_heads_, t, hd});
  MatmulOptions ta;
  ta.trans_a = true;
  Matmul(ctx, probs_, d_o, dv_.Reshape({groups, t, hd}), ta);
  EnsureShape(dprobs_, {groups, g * t, t});
  MatmulOptions tb;
  tb.trans_b = true;
  Matmul(ctx, d_o, v_.Reshape({groups, t, hd}), dprobs_, tb);

  // dS = P * (dP - rowsum(dP * P)); masked entries have P = 0 so dS = 0 there.
  const float* pp = probs_.f32();
  float* pds = dprobs_.f32();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < groups * g * t; ++r) {
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
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  EnsureShape(dq_, {b, heads_, t, hd});
  EnsureShape(dk_, {b, kv_heads_, t, hd});
  MatmulOptions sq;
  sq.alpha = scale;
  Matmul(ctx, dprobs_, k_.Reshape({groups, t, hd}), dq_.Reshape({groups, g * t, hd}), sq);
  MatmulOptions sk;
  sk.alpha = scale;
  sk.trans_a = true;
  Matmul(ctx, dprobs_, q_.Reshape({groups, g * t, hd}), dk_.Reshape({groups, t, hd}), sk);

  if (rope_) {
    rope_->Apply(dq_.f32(), b, t, heads_, heads_ * t * hd, hd, t * hd, 0, true);
    rope_->Apply(dk_.f32(), b, t, kv_heads_, kv_heads_ * t * hd, hd, t * hd, 0, true);
  }
  if (q_norm_) {
    dq_.CopyFrom(q_norm_->Backward(ctx, dq_.Reshape({b * heads_ * t, hd})));
    dk_.CopyFrom(k_norm_->Backward(ctx, dk_.Reshape({b * kv_heads_ * t, hd})));
  }
  Merge(dq_, dk_, dv_, dqkv_, b, t);
  return qkv_->Backward(ctx, dqkv_);
}

std::unique_ptr<DecodeState> Attention::NewDecodeState(int64_t batch, int64_t max_len) const {
  auto s = std::make_unique<KvCache>();
  s->k = Tensor::Zeros({batch, kv_heads_, max_len, head_dim_});
  s->v = Tensor::Zeros({batch, kv_heads_, max_len, head_dim_});
  return s;
}

Tensor Attention::Step(Context& ctx, const Tensor& x, int64_t pos, DecodeState* state) {
  auto* cache = static_cast<KvCache*>(state);
  const int64_t b = x.dim(0), t = x.dim(1), hd = head_dim_, max_len = cache->k.dim(2);
  const int64_t g = heads_ / kv_heads_;
  if (pos != cache->len) throw std::logic_error("attention step: positions must be contiguous");
  if (pos + t > max_len) throw std::out_of_range("attention step: beyond the KV cache length");
  Split(qkv_->Forward(ctx, x, Mode::kEval), b, t);
  PrepareQK(ctx, b, t, pos, Mode::kEval);
  // Append the new keys/values to the cache.
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < kv_heads_; ++h) {
      const int64_t src = (bi * kv_heads_ + h) * t * hd, dst = ((bi * kv_heads_ + h) * max_len + pos) * hd;
      std::memcpy(cache->k.f32() + dst, k_.f32() + src, t * hd * sizeof(float));
      std::memcpy(cache->v.f32() + dst, v_.f32() + src, t * hd * sizeof(float));
    }
  cache->len = pos + t;
  // Attention of each new query over the cached prefix: O(len * hd) per head and token.
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  EnsureShape(merged_, {b, t, heads_ * hd});
  const float *q = q_.f32(), *kc = cache->k.f32(), *vc = cache->v.f32();
  float* out = merged_.f32();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < heads_; ++h) {
      const int64_t kvh = h / g;
      const float* kb = kc + (bi * kv_heads_ + kvh) * max_len * hd;
      const float* vb = vc + (bi * kv_heads_ + kvh) * max_len * hd;
      std::vector<float> w(pos + t);
      for (int64_t ti = 0; ti < t; ++ti) {
        const float* qi = q + ((bi * heads_ + h) * t + ti) * hd;
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
        float* o = out + (bi * t + ti) * heads_ * hd + h * hd;
        for (int64_t c = 0; c < hd; ++c) o[c] = 0.0f;
        for (int64_t j = 0; j < n; ++j) {
          const float pj = w[j] / sum;
          for (int64_t c = 0; c < hd; ++c) o[c] += pj * vb[j * hd + c];
        }
      }
    }
  return proj_->Forward(ctx, merged_, Mode::kEval);
}

}  // namespace tinylm
