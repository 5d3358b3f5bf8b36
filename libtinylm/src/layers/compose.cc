#include "tinylm/layers/compose.h"

#include <stdexcept>

#include "tinylm/layers/elementwise.h"
#include "tinylm/tensors/ops.h"

namespace tinylm {

namespace {
struct ChildStates : DecodeState {
  std::vector<std::unique_ptr<DecodeState>> children;
};
}  // namespace

Tensor Sequential::Forward(Context& ctx, const Tensor& x, Mode mode) {
  Tensor h = x;
  for (auto& l : layers_) h = l->Forward(ctx, h, mode);
  return h;
}

Tensor Sequential::Backward(Context& ctx, const Tensor& dy) {
  Tensor g = dy;
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) g = (*it)->Backward(ctx, g);
  return g;
}

std::vector<Param*> Sequential::Params() const {
  std::vector<Param*> p;
  for (auto& l : layers_) AppendUnique(p, l->Params());
  return p;
}

std::unique_ptr<DecodeState> Sequential::NewDecodeState(int64_t batch, int64_t max_len) const {
  auto s = std::make_unique<ChildStates>();
  for (auto& l : layers_) s->children.push_back(l->NewDecodeState(batch, max_len));
  return s;
}

Tensor Sequential::Step(Context& ctx, const Tensor& x, int64_t pos, DecodeState* state) {
  auto* s = static_cast<ChildStates*>(state);
  Tensor h = x;
  for (size_t i = 0; i < layers_.size(); ++i) h = layers_[i]->Step(ctx, h, pos, s->children[i].get());
  return h;
}

double Sequential::ForwardFlops() const {
  double f = 0;
  for (auto& l : layers_) f += l->ForwardFlops();
  return f;
}

std::vector<const Layer*> Sequential::Children() const {
  std::vector<const Layer*> c;
  for (auto& l : layers_) c.push_back(l.get());
  return c;
}

Shape Sequential::OutputShape(const Shape& in) const {
  Shape s = in;
  for (auto& l : layers_) s = l->OutputShape(s);
  return s;
}

Tensor Residual::Forward(Context& ctx, const Tensor& x, Mode mode) {
  const Tensor b = branch_->Forward(ctx, x, mode);
  Tensor y = ctx.Pooled(x.shape());
  Add(x, b, y);
  elements_ = y.numel();
  return y;
}

Tensor Residual::Backward(Context& ctx, const Tensor& dy) {
  const Tensor db = branch_->Backward(ctx, dy);
  Tensor dx = ctx.Pooled(dy.shape());
  Add(dy, db, dx);
  return dx;
}

Tensor Residual::Step(Context& ctx, const Tensor& x, int64_t pos, DecodeState* state) {
  const Tensor b = branch_->Step(ctx, x, pos, state);
  Tensor y = ctx.Pooled(x.shape());
  Add(x, b, y);
  elements_ = y.numel();
  return y;
}

LayerPtr MakePreNormResidual(LayerPtr norm, LayerPtr mixer, float dropout, const std::string& name) {
  auto branch = std::make_unique<Sequential>();
  branch->Add(std::move(norm));
  branch->Add(std::move(mixer));
  if (dropout > 0.0f) branch->Add(std::make_unique<Dropout>(name + ".dropout", dropout));
  return std::make_unique<Residual>(std::move(branch));
}

Repeat::Repeat(ParamStore& store, int count, const BlockFactory& make_block) {
  if (count < 1) throw std::invalid_argument("repeat: count must be >= 1");
  ParamStore::SharedScope shared(store);
  for (int i = 0; i < count; ++i) Add(make_block(store, i));
}

}  // namespace tinylm
