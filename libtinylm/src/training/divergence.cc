#include "tinylm/training/divergence.h"

#include <algorithm>
#include <cmath>

namespace tinylm {

bool AllFinite(const Tensor& t) {
  if (!t.defined() || t.dtype() != DType::kF32) return true;
  const float* p = t.f32();
  // Summing is cheaper than a branch per element, and a sum is finite only if every term is
  // (finite values large enough to overflow the sum are themselves a divergence).
  float acc = 0.0f;
  for (int64_t i = 0; i < t.numel(); ++i) acc += p[i] * 0.0f;
  return std::isfinite(acc);
}

double ExplodedLossThreshold(int64_t vocab) { return 3.0 * std::log(static_cast<double>(std::max<int64_t>(vocab, 2))); }

namespace {

std::string Name(const LanguageModel& m, size_t i) {
  const auto& parts = m.parts();
  if (i >= parts.size()) return "layer " + std::to_string(i);
  return parts[i].name + " (" + parts[i].description + ")";
}

bool ParamGradsFinite(const Layer& l) {
  for (const Param* p : l.Params())
    if (!AllFinite(p->grad)) return false;
  return true;
}

}  // namespace

NonFiniteSite LocateNonFinite(Context& ctx, LanguageModel& model, const Batch& batch) {
  const auto& layers = model.net().layers();
  model.store().ZeroGrads();
  // Forward, one layer at a time, as Sequential does.
  Tensor x = batch.inputs;
  for (size_t i = 0; i < layers.size(); ++i) {
    x = layers[i]->Forward(ctx, x, Mode::kTrain);
    if (!AllFinite(x)) return {Name(model, i), "forward output"};
    if (i == 0 && model.reconstruction_head()) {
      // The auxiliary head reads the embedding's output; check it before the main path moves on.
      const Tensor aux = model.reconstruction_head()->Forward(ctx, x, Mode::kEval);
      if (!AllFinite(aux)) return {"reconstruction head", "forward output"};
    }
  }
  Tensor dx = ctx.Pooled(x.shape());
  CrossEntropy(x, batch.targets, batch.weights, dx);
  x = Tensor();
  if (!AllFinite(dx)) return {"loss", "gradient"};
  // Backward in reverse: the first layer (in backward order) whose input or parameter gradient
  // is not finite is where the gradient broke.
  for (size_t i = layers.size(); i-- > 0;) {
    dx = layers[i]->Backward(ctx, dx);
    if (!AllFinite(dx) || !ParamGradsFinite(*layers[i])) return {Name(model, i), "gradient"};
  }
  return {};
}

}  // namespace tinylm
