// Weighted cross-entropy with a fused log-softmax:
//   L = sum_i w_i * CE_i / sum_i w_i,   CE_i = logsumexp(z_i) - z_i[y_i]
// w_i = 0 masks a position (e.g. prompt tokens in instruction tuning). With no weights every
// position has weight 1 (plain mean). The reported evaluation loss is always unweighted.
#pragma once
#include "tinylm/tensors/tensor.h"

namespace tinylm {

struct LossResult {
  double loss = 0.0;         // weighted mean CE (nats)
  double weight_sum = 0.0;   // sum of weights
  double ce_sum = 0.0;       // unweighted sum of CE over positions with weight > 0
  int64_t count = 0;         // positions with weight > 0
  int64_t correct = 0;       // of those, argmax == target
};

// logits [N, V] (or [B, T, V]), targets int32 [N], weights f32 [N] or undefined.
// If dlogits is defined (same shape as logits), writes dL/dlogits into it.
// `normalizer` > 0 replaces sum_i w_i as W: a shard of a data-parallel batch divides by the
// whole batch's weight, so the ranks' losses and gradients add up to the whole batch's.
LossResult CrossEntropy(const Tensor& logits, const Tensor& targets, const Tensor& weights,
                        const Tensor& dlogits, double normalizer = 0.0);

}  // namespace tinylm
