#include "tinylm/layers/attention.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "tinylm/tensors/ops.h"
#include "attention_kernels.h"

#include "tinylm/tensors/parallel.h"

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

void Attention::Split(Context& ctx, const Tensor& qkv, int64_t b, int64_t t) {
  const int64_t hd = head_dim_, hq = heads_, hk = kv_heads_;
  const int64_t row = (hq + 2 * hk) * hd;
  q_ = ctx.Pooled({b, hq, t, hd});
  k_ = ctx.Pooled({b, hk, t, hd});
  v_ = ctx.Pooled({b, hk, t, hd});
  const float* src = qkv.f32();
  float *q = q_.f32(), *k = k_.f32(), *v = v_.f32();
  ParallelFor(b * t, 17, [&](int64_t bt) {
    const int64_t bi = bt / t, ti = bt % t;
    const float* r = src + (bi * t + ti) * row;
    for (int64_t h = 0; h < hq; ++h)
      std::memcpy(q + ((bi * hq + h) * t + ti) * hd, r + h * hd, hd * sizeof(float));
    for (int64_t h = 0; h < hk; ++h) {
      std::memcpy(k + ((bi * hk + h) * t + ti) * hd, r + (hq + h) * hd, hd * sizeof(float));
      std::memcpy(v + ((bi * hk + h) * t + ti) * hd, r + (hq + hk + h) * hd, hd * sizeof(float));
    }
  });
}

Tensor Attention::Merge(Context& ctx, const Tensor& dq, const Tensor& dk, const Tensor& dv, int64_t b,
                        int64_t t) {
  const int64_t hd = head_dim_, hq = heads_, hk = kv_heads_;
  const int64_t row = (hq + 2 * hk) * hd;
  Tensor dqkv = ctx.Pooled({b, t, row});
  float* dst = dqkv.f32();
  const float *q = dq.f32(), *k = dk.f32(), *v = dv.f32();
  ParallelFor(b * t, 17, [&](int64_t bt) {
    const int64_t bi = bt / t, ti = bt % t;
    float* r = dst + (bi * t + ti) * row;
    for (int64_t h = 0; h < hq; ++h)
      std::memcpy(r + h * hd, q + ((bi * hq + h) * t + ti) * hd, hd * sizeof(float));
    for (int64_t h = 0; h < hk; ++h) {
      std::memcpy(r + (hq + h) * hd, k + ((bi * hk + h) * t + ti) * hd, hd * sizeof(float));
      std::memcpy(r + (hq + hk + h) * hd, v + ((bi * hk + h) * t + ti) * hd, hd * sizeof(float));
    }
  });
  return dqkv;
}

void Attention::PrepareQK(Context& ctx, int64_t b, int64_t t, int64_t pos0, Mode mode) {
  const int64_t hd = head_dim_;
  if (q_norm_) {  // the norms keep the pre-norm q, k for backward; their outputs are fresh buffers
    q_ = q_norm_->Forward(ctx, q_.Reshape({b * heads_ * t, hd}), mode).Reshape(q_.shape());
    k_ = k_norm_->Forward(ctx, k_.Reshape({b * kv_heads_ * t, hd}), mode).Reshape(k_.shape());
  }
  if (rope_) {
    rope_->Apply(q_.f32(), b, t, heads_, heads_ * t * hd, hd, t * hd, pos0, false);
    rope_->Apply(k_.f32(), b, t, kv_heads_, kv_heads_ * t * hd, hd, t * hd, pos0, false);
  }
}

using attention_kernels::PermuteHeads;

double Attention::CountFlops(int64_t b, int64_t t, int64_t pos) const {
  // Query i (absolute position pos + i) sees pos + i + 1 keys: q.k and p.v are 2 hd each, the
  // softmax about 5 per score.
  const double pairs = static_cast<double>(t) * pos + 0.5 * static_cast<double>(t) * (t + 1);
  const double vectors = static_cast<double>(b) * t * (heads_ + kv_heads_);
  double f = qkv_->ForwardFlops() + proj_->ForwardFlops() + b * heads_ * pairs * (4.0 * head_dim_ + 5.0);
  if (q_norm_) f += 4.0 * vectors * head_dim_;
  if (rope_) f += rope_->Flops(vectors);
  return f;
}

Tensor Attention::Forward(Context& ctx, const Tensor& x, Mode mode) {
  if (x.rank() != 3 || x.dim(2) != dim_)
    throw std::invalid_argument("attention: input " + ShapeString(x.shape()) + ", expected [B,T," +
                                std::to_string(dim_) + "]");
  const int64_t b = x.dim(0), t = x.dim(1), hd = head_dim_, n = b * heads_;
  Split(ctx, qkv_->Forward(ctx, x, mode), b, t);
  PrepareQK(ctx, b, t, 0, mode);

  const Shape per_head{n, t, hd};
  Tensor k = k_, v = v_;
  if (kv_heads_ != heads_) {  // grouped-query attention: each query head gets its kv head's copy
    k_expanded_ = ctx.Pooled({b, heads_, t, hd});
    v_expanded_ = ctx.Pooled({b, heads_, t, hd});
    attention_kernels::ExpandHeads(k_.f32(), k_expanded_.f32(), b, kv_heads_, heads_, t, hd);
    attention_kernels::ExpandHeads(v_.f32(), v_expanded_.f32(), b, kv_heads_, heads_, t, hd);
    k = k_expanded_, v = v_expanded_;
  }
  EnsureShape(lse_, {n, t});
  o_ = ctx.Pooled({b, heads_, t, hd});
  attention_kernels::Forward(ctx, q_.Reshape(per_head), k.Reshape(per_head), v.Reshape(per_head),
                             1.0f / std::sqrt(static_cast<float>(hd)), o_.Reshape(per_head), lse_);
  Tensor merged = ctx.Pooled({b, t, heads_ * hd});
  PermuteHeads(o_.f32(), merged.f32(), b, heads_, t, hd, /*to_heads_first=*/false);
  if (mode == Mode::kEval) q_ = k_ = v_ = o_ = k_expanded_ = v_expanded_ = Tensor();  // nothing to keep
  const Tensor y = proj_->Forward(ctx, merged, mode);
  flops_ = CountFlops(b, t, 0);
  return y;
}

Tensor Attention::Backward(Context& ctx, const Tensor& dy) {
  const int64_t b = dy.dim(0), t = dy.dim(1), hd = head_dim_, n = b * heads_;
  Tensor d_o = ctx.Pooled({b, heads_, t, hd});  // dO in head-first layout
  PermuteHeads(proj_->Backward(ctx, dy).f32(), d_o.f32(), b, heads_, t, hd, /*to_heads_first=*/true);

  const Shape per_head{n, t, hd};
  Tensor dq = ctx.Pooled({b, heads_, t, hd});
  Tensor dk = ctx.Pooled({b, kv_heads_, t, hd});
  Tensor dv = ctx.Pooled({b, kv_heads_, t, hd});
  const bool grouped = kv_heads_ != heads_;
  // Grouped-query attention: per-query-head gradients of the copies, summed into each kv head.
  Tensor dk_heads = grouped ? ctx.Pooled({b, heads_, t, hd}) : dk;
  Tensor dv_heads = grouped ? ctx.Pooled({b, heads_, t, hd}) : dv;
  const Tensor &k = grouped ? k_expanded_ : k_, &v = grouped ? v_expanded_ : v_;
  attention_kernels::Backward(ctx, q_.Reshape(per_head), k.Reshape(per_head), v.Reshape(per_head),
                              o_.Reshape(per_head), lse_, d_o.Reshape(per_head),
                              1.0f / std::sqrt(static_cast<float>(hd)), dq.Reshape(per_head),
                              dk_heads.Reshape(per_head), dv_heads.Reshape(per_head));
  d_o = q_ = k_ = v_ = o_ = k_expanded_ = v_expanded_ = Tensor();  // back to the pool
  if (grouped) {
    attention_kernels::ReduceHeads(dk_heads.f32(), dk.f32(), b, kv_heads_, heads_, t, hd);
    attention_kernels::ReduceHeads(dv_heads.f32(), dv.f32(), b, kv_heads_, heads_, t, hd);
    dk_heads = dv_heads = Tensor();
  }

  if (rope_) {
    rope_->Apply(dq.f32(), b, t, heads_, heads_ * t * hd, hd, t * hd, 0, true);
    rope_->Apply(dk.f32(), b, t, kv_heads_, kv_heads_ * t * hd, hd, t * hd, 0, true);
  }
  if (q_norm_) {
    dq = q_norm_->Backward(ctx, dq.Reshape({b * heads_ * t, hd}));
    dk = k_norm_->Backward(ctx, dk.Reshape({b * kv_heads_ * t, hd}));
  }
  return qkv_->Backward(ctx, Merge(ctx, dq, dk, dv, b, t));
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
  if (pos != cache->len) throw std::logic_error("attention step: positions must be contiguous");
  if (pos + t > max_len) throw std::out_of_range("attention step: beyond the KV cache length");
  Split(ctx, qkv_->Forward(ctx, x, Mode::kEval), b, t);
  PrepareQK(ctx, b, t, pos, Mode::kEval);
  attention_kernels::AppendToCache(k_.f32(), cache->k.f32(), b, kv_heads_, t, hd, max_len, pos);
  attention_kernels::AppendToCache(v_.f32(), cache->v.f32(), b, kv_heads_, t, hd, max_len, pos);
  cache->len = pos + t;
  // Attention of each new query over the cached prefix: O(len * hd) per head and token.
  Tensor merged = ctx.Pooled({b, t, heads_ * hd});
  attention_kernels::AttendCached(q_.f32(), cache->k.f32(), cache->v.f32(), merged.f32(), b, heads_, kv_heads_, t, hd,
                                  max_len, pos, 1.0f / std::sqrt(static_cast<float>(hd)));
  q_ = k_ = v_ = Tensor();
  const Tensor y = proj_->Forward(ctx, merged, Mode::kEval);
  flops_ = CountFlops(b, t, pos);
  return y;
}

}  // namespace tinylm
