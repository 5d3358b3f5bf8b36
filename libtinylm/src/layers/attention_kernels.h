// The kernels of causal softmax attention, shared by the Attention layer and the graph op
// fn::CausalAttention. Heads are laid out [B, H, T, hd] ("heads first") so that the g query
// heads reading one key/value head form one [g*T, hd] matrix and every product is one batched
// oneDNN matmul; projections see [B, T, H, hd] ("tokens first").
#pragma once
#include <cstdint>

#include "tinylm/tensors/context.h"
#include "tinylm/tensors/tensor.h"

namespace tinylm::attention_kernels {

// Moves rows of hd floats between tokens-first and heads-first layouts.
void PermuteHeads(const float* src, float* dst, int64_t b, int64_t heads, int64_t t, int64_t hd,
                  bool to_heads_first);

// Causal attention over N independent heads, q, k, v, o [N, T, hd] (a query head's own keys
// and values: see ExpandHeads for grouped-query attention). Blocked as FlashAttention: query
// rows go in blocks of kQueryBlock, each multiplied only with the key prefix it may attend to
// (masked tiles are skipped: about 5/8 of the square at T = 256), and instead of the T x T
// probabilities only each row's log-sum-exp lse [N, T] is kept; Backward recomputes the
// probabilities block by block. Score blocks live in ctx.Workspace slots 0 and 1.
constexpr int64_t kQueryBlock = 64;
void Forward(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, float scale, const Tensor& o,
             const Tensor& lse);

// Given dO [N, T, hd]: dQ, dK, dV (overwritten). Uses ctx.Workspace slots 0, 1 and 2.
void Backward(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& o, const Tensor& lse,
              const Tensor& d_o, float scale, const Tensor& dq, const Tensor& dk, const Tensor& dv);

// Grouped-query attention: copies kv [B, Hkv, T, hd] to [B, H, T, hd] (query head h reads kv
// head h / (H / Hkv), as PyTorch's repeat_interleave), and sums the gradient back.
void ExpandHeads(const float* kv, float* expanded, int64_t b, int64_t kv_heads, int64_t heads, int64_t t, int64_t hd);
void ReduceHeads(const float* expanded, float* kv, int64_t b, int64_t kv_heads, int64_t heads, int64_t t, int64_t hd);

// Decode: new queries q [B, H, t, hd] (positions pos..pos+t-1) over cached keys and values
// [B, Hkv, max_len, hd] holding positions 0..pos+t-1; writes out [B, t, H*hd] (tokens first).
void AttendCached(const float* q, const float* k_cache, const float* v_cache, float* out, int64_t b, int64_t heads,
                  int64_t kv_heads, int64_t t, int64_t hd, int64_t max_len, int64_t pos, float scale);

// Appends keys or values [B, Hkv, t, hd] at position pos of a cache [B, Hkv, max_len, hd].
void AppendToCache(const float* src, float* cache, int64_t b, int64_t kv_heads, int64_t t, int64_t hd,
                   int64_t max_len, int64_t pos);

}  // namespace tinylm::attention_kernels
