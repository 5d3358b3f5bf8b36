// Divergence: a run whose loss, logits or gradients stop being finite (or whose loss grows far
// beyond a uniform guess's) has diverged. That is a result to report — which step, which layer —
// not a reason to crash or to average garbage into a comparison.
#pragma once
#include <string>

#include "tinylm/model/model.h"

namespace tinylm {

// True when every element of an f32 tensor is finite (an undefined tensor counts as finite).
bool AllFinite(const Tensor& t);

// A loss (nats per token) this far beyond a uniform prediction's ln(vocab) means the model has
// left any sensible region: 3 ln(vocab) is 16.6 nats for bytes, 20.8 for 1,024 tokens.
double ExplodedLossThreshold(int64_t vocab);

// Replays `batch` layer by layer — forward, then backward from the cross-entropy's gradient —
// and names the first layer whose output (forward) or input or parameter gradient (backward)
// is not finite: "blocks.1.0 (residual(rmsnorm, attention 4h))" with "forward output" or
// "gradient". Empty when everything is finite (the blow-up was only in the loss's size). Costs
// one extra forward and backward; gradients are left overwritten.
struct NonFiniteSite {
  std::string layer;  // part name and description; empty if none found
  std::string where;  // "forward output", "gradient", "reconstruction head"
};
NonFiniteSite LocateNonFinite(Context& ctx, LanguageModel& model, const Batch& batch);

}  // namespace tinylm
