// AdamW with decoupled weight decay (PyTorch's formulation, step for step), global-norm
// gradient clipping, and the linear-warmup + cosine learning-rate schedule. Each works on the
// flat arenas of a ParamStore.
#pragma once
#include <cstdint>

#include "tinylm/tensors/params.h"

namespace tinylm {

struct AdamWOptions {
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.01f;
};

class AdamW {
 public:
  explicit AdamW(AdamWOptions opt = {}) : opt_(opt) {}
  // One update of every parameter with learning rate `lr`; weight decay only where
  // Param::decay. Increments the step count (bias correction uses it).
  void Step(ParamStore& store, float lr);
  int64_t steps() const { return step_; }
  void set_steps(int64_t s) { step_ = s; }
  const AdamWOptions& options() const { return opt_; }

 private:
  AdamWOptions opt_;
  int64_t step_ = 0;
};

// Scales all gradients so their global L2 norm is at most max_norm (as torch's
// clip_grad_norm_). Returns the norm before clipping. max_norm <= 0 only measures.
double ClipGradNorm(ParamStore& store, double max_norm);

struct ScheduleOptions {
  float lr = 1e-3f, min_lr = 0.0f;
  int64_t warmup_steps = 0, total_steps = 1;
};
// Learning rate for 0-based `step`: linear warmup lr*(step+1)/warmup, then cosine from lr down
// to min_lr at total_steps (held at min_lr after).
float ScheduledLr(const ScheduleOptions& s, int64_t step);

}  // namespace tinylm
