#include "tinylm/layers/layer.h"

#include <algorithm>

namespace tinylm {

std::unique_ptr<DecodeState> Layer::NewDecodeState(int64_t, int64_t) const { return nullptr; }

Tensor Layer::Step(Context& ctx, const Tensor& x, int64_t, DecodeState*) {
  return Forward(ctx, x, Mode::kEval);
}

Tensor& EnsureShape(Tensor& slot, const Shape& shape, DType dtype) {
  if (!slot.defined() || slot.dtype() != dtype || slot.numel() != NumElements(shape)) {
    slot = Tensor::Empty(shape, dtype);
  } else if (slot.shape() != shape) {
    slot = slot.Reshape(shape);
  }
  return slot;
}

void AppendUnique(std::vector<Param*>& out, const std::vector<Param*>& more) {
  for (Param* p : more)
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
}

}  // namespace tinylm
