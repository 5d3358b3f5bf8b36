// The causal memory read of delta blocks A and B, per channel c of q, k, v (rows of [B, T, 3d]):
//   kv_t = k_t * v_t
//   C_t  = mean(kv_1 .. kv_t)                 (running mean, lambda = null), or
//   C_t  = l_t C_{t-1} + (1 - l_t) kv_t         (decay, l_t given per position)
//   r_t  = sigmoid(q_t) * (C_t + a_t (kv_t - C_{t-1})),  C_0 = 0
// a_t and l_t are per position (one float per row): option A broadcasts its learned scalars,
// option B computes them with gates. Accumulation is in double; scans run in parallel over
// (sequence, channel) pairs.
#pragma once

#include <cstdint>

#include "tinylm/tensor.h"

namespace tinylm::delta_lm {

class GatedMemory {
 public:
  explicit GatedMemory(int64_t d) : d_(d) {}

  // qkv [B, T, 3d]; alpha and lambda hold B*T floats (lambda null: running mean) and, like qkv,
  // must stay alive until Backward. `carried` ([B, d], or null for whole sequences starting at
  // position 0) holds C_{pos-1} when decoding and is updated to the last C. Returns r [B, T, d].
  const Tensor& Forward(const Tensor& qkv, const float* alpha, const float* lambda, int64_t pos, Tensor* carried);

  // From dL/dr: returns dL/dqkv and writes dL/da_t and dL/dl_t per row (when non-null).
  const Tensor& Backward(const Tensor& dread, float* dalpha, float* dlambda);

 private:
  int64_t d_;
  Tensor qkv_, mem_, read_, dqkv_, dalpha_parts_, dlambda_parts_;
  const float* alpha_ = nullptr;
  const float* lambda_ = nullptr;
};

}  // namespace tinylm::delta_lm
