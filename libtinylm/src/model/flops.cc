#include "tinylm/model/flops.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace tinylm {
namespace {

// The first layer (depth first) that does not report, for the error message.
const Layer* Unreported(const Layer& l) {
  if (std::isfinite(l.ForwardFlops())) return nullptr;
  for (const Layer* c : l.Children())
    if (const Layer* u = Unreported(*c)) return u;
  return &l;
}

}  // namespace

ModelFlops CountModelFlops(Context& ctx, LanguageModel& model, int64_t batch, int64_t seq_len) {
  if (!model.store().allocated()) model.store().Allocate(1);
  const Tensor ids = Tensor::Zeros({batch, seq_len}, DType::kS32);
  const Tensor logits = model.Forward(ctx, ids, Mode::kEval);
  ModelFlops f;
  f.tokens = batch * seq_len;
  f.forward = model.net().ForwardFlops();
  if (!std::isfinite(f.forward)) {
    const Layer* u = Unreported(model.net());
    throw std::invalid_argument("layer '" + (u ? u->type() : std::string("?")) +
                                "' does not report its FLOPs (Layer::ForwardFlops)");
  }
  // Softmax cross-entropy: about 5 per logit forward and 2 backward.
  f.training = 3.0 * f.forward + 7.0 * static_cast<double>(logits.numel());
  if (Layer* head = model.reconstruction_head()) {
    // Training also decodes the embedding's output (forward, backward and its cross-entropy).
    const Tensor e = model.net().layers()[0]->Forward(ctx, ids, Mode::kEval);
    const Tensor aux = head->Forward(ctx, e, Mode::kEval);
    f.training += 3.0 * head->ForwardFlops() + 7.0 * static_cast<double>(aux.numel());
  }
  return f;
}

}  // namespace tinylm
