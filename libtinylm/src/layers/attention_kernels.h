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

// probs [G, g*T, T] = causal_softmax(q k^T * scale), o [G, g*T, hd] = probs v, for
// q [G, g*T, hd], k, v [G, T, hd] (G = batch * kv heads, g = query heads per kv head).
void Forward(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, float scale, const Tensor& probs,
             const Tensor& o);

// Given dO [G, g*T, hd]: dV, dQ, dK (same layouts as v, q, k; overwritten). dprobs is workspace.
void Backward(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& probs,
              const Tensor& d_o, float scale, const Tensor& dprobs, const Tensor& dq, const Tensor& dk,
              const Tensor& dv);

// Decode: new queries q [B, H, t, hd] (positions pos..pos+t-1) over cached keys and values
// [B, Hkv, max_len, hd] holding positions 0..pos+t-1; writes out [B, t, H*hd] (tokens first).
void AttendCached(const float* q, const float* k_cache, const float* v_cache, float* out, int64_t b, int64_t heads,
                  int64_t kv_heads, int64_t t, int64_t hd, int64_t max_len, int64_t pos, float scale);

// Appends keys or values [B, Hkv, t, hd] at position pos of a cache [B, Hkv, max_len, hd].
void AppendToCache(const float* src, float* cache, int64_t b, int64_t kv_heads, int64_t t, int64_t hd,
                   int64_t max_len, int64_t pos);

}  // namespace tinylm::attention_kernels
