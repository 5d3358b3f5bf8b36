// The causal memory read of delta blocks A and B, per channel c of q, k, v (rows of [B, T, 3d]):
//   kv_t = k_t * v_t
//   C_t  = mean(kv_1 .. kv_t)                 (running mean, lambda = null), or
//   C_t  = l_t C_{t-1} + (1 - l_t) kv_t         (decay, l_t given per position)
//   r_t  = sigmoid(q_t) * (C_t + a_t (kv_t - C_{t-1})),  C_0 = 0
// a_t and l_t are per position: option A broadcasts its learned scalars (stride 0), option B
// reads them from its gates (stride = gates per row). Accumulation is in double; a scan walks
// time per sequence (sequences in parallel), each step one vectorised pass over a row's channels.
#pragma once

#include <cstdint>

#include "tinylm/tensors/tensor.h"

namespace tinylm::delta_lm {

// One float per position r at data[r * stride]; stride 0 broadcasts data[0].
struct PerPosition {
  const float* data = nullptr;
  int64_t stride = 0;
  float operator[](int64_t r) const { return data[r * stride]; }
};

class GatedMemory {
 public:
  explicit GatedMemory(int64_t d) : d_(d) {}

  // qkv [B, T, 3d]; alpha and lambda (lambda.data null: running mean) must, like qkv, stay
  // alive until Backward. `carried` ([B, d], or null for whole sequences starting at position 0)
  // holds C_{pos-1} when decoding and is updated to the last C. Returns r [B, T, d].
  const Tensor& Forward(const Tensor& qkv, PerPosition alpha, PerPosition lambda, int64_t pos, Tensor* carried);

  // From dL/dr: returns dL/dqkv and writes dL/da_t and dL/dl_t of row r at d*[r * stride]
  // (when the pointer is non-null; dlambda only with decay memory).
  const Tensor& Backward(const Tensor& dread, float* dalpha, float* dlambda, int64_t stride);

 private:
  int64_t d_;
  Tensor qkv_, mem_, read_, dqkv_, dalpha_parts_, dlambda_parts_;
  PerPosition alpha_, lambda_;
};

}  // namespace tinylm::delta_lm
