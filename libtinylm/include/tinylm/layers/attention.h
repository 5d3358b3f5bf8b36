// Causal multi-head self-attention over [B, T, D]:
//   qkv = x Wqkv^T  (one matmul; columns: H query heads, then Hkv key heads, then Hkv value heads)
//   optional per-head RMSNorm of q and k (QK-norm), RoPE on q and k,
//   P = causal_softmax(q k^T / sqrt(hd)),  o = P v,  y = o Wo^T.
// Grouped-query attention: query head h reads key/value head h / (H / Hkv), as PyTorch's
// repeat_interleave. Heads are laid out [B, H, T, hd]; the attention itself is blocked and
// recomputes probabilities in backward (attention_kernels.h), so memory grows with T, not T^2.
#pragma once
#include <memory>

#include "tinylm/layers/layer.h"
#include "tinylm/layers/linear.h"
#include "tinylm/layers/rmsnorm.h"
#include "tinylm/layers/rope.h"

namespace tinylm {

struct AttentionOptions {
  int64_t heads = 4;
  int64_t kv_heads = 0;  // 0: same as heads
  bool qk_norm = false;
  float qk_norm_eps = 1e-6f;
  bool rope = true;
  RopeOptions rope_options;
  bool bias = false;
  float init_std = 0.02f;
  ProjectionFactory projection;  // null: Linear
};

class Attention : public Layer {
 public:
  Attention(ParamStore& store, const std::string& name, int64_t dim, AttentionOptions opt);
  std::string type() const override { return "attention"; }
  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override;
  Tensor Backward(Context& ctx, const Tensor& dy) override;
  std::vector<Param*> Params() const override;
  std::unique_ptr<DecodeState> NewDecodeState(int64_t batch, int64_t max_len) const override;
  Tensor Step(Context& ctx, const Tensor& x, int64_t pos, DecodeState* state) override;
  double ForwardFlops() const override { return flops_; }
  std::vector<const Layer*> Children() const override { return {qkv_.get(), proj_.get()}; }

 private:
  // FLOPs of a pass over t new positions after pos earlier ones (causal pairs only).
  double CountFlops(int64_t b, int64_t t, int64_t pos) const;
  // Splits packed qkv [B,T,(H+2Hkv)*hd] into q [B,H,T,hd], k, v [B,Hkv,T,hd] (q_, k_, v_), and
  // gradients back into a packed tensor.
  void Split(Context& ctx, const Tensor& qkv, int64_t b, int64_t t);
  Tensor Merge(Context& ctx, const Tensor& dq, const Tensor& dk, const Tensor& dv, int64_t b, int64_t t);
  // Per-head norm + RoPE of q_ and k_ (positions pos0..), layout [B, heads, T, hd].
  void PrepareQK(Context& ctx, int64_t b, int64_t t, int64_t pos0, Mode mode);

  int64_t dim_, heads_, kv_heads_, head_dim_;
  AttentionOptions opt_;
  LayerPtr qkv_, proj_;
  std::unique_ptr<RmsNorm> q_norm_, k_norm_;
  std::unique_ptr<Rope> rope_;
  double flops_ = 0;
  // Saved for backward (training only; outputs and gradients come from ctx.Pooled): q, k, v
  // (normed, rotated), o and each row's log-sum-exp; the T x T probabilities are recomputed,
  // never stored. Grouped-query attention also keeps the per-query-head copies of k and v.
  Tensor q_, k_, v_, lse_, o_;
  Tensor k_expanded_, v_expanded_;
};

}  // namespace tinylm
