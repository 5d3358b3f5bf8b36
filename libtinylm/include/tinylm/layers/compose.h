// Composition layers: a chain, a residual connection, and repetition with shared weights.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "tinylm/layers/layer.h"

namespace tinylm {

// y = f_n(...f_1(x)). Decode state: one child state per child.
class Sequential : public Layer {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<LayerPtr> layers) : layers_(std::move(layers)) {}
  void Add(LayerPtr l) { layers_.push_back(std::move(l)); }
  std::string type() const override { return "sequential"; }
  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override;
  Tensor Backward(Context& ctx, const Tensor& dy) override;
  std::vector<Param*> Params() const override;
  std::unique_ptr<DecodeState> NewDecodeState(int64_t batch, int64_t max_len) const override;
  Tensor Step(Context& ctx, const Tensor& x, int64_t pos, DecodeState* state) override;
  Shape OutputShape(const Shape& in) const override;
  double ForwardFlops() const override;
  std::vector<const Layer*> Children() const override;
  const std::vector<LayerPtr>& layers() const { return layers_; }

 private:
  std::vector<LayerPtr> layers_;
};

// y = x + branch(x). A pre-norm residual block is Residual(Sequential{norm, mixer[, dropout]}).
class Residual : public Layer {
 public:
  explicit Residual(LayerPtr branch) : branch_(std::move(branch)) {}
  std::string type() const override { return "residual"; }
  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override;
  Tensor Backward(Context& ctx, const Tensor& dy) override;
  std::vector<Param*> Params() const override { return branch_->Params(); }
  std::unique_ptr<DecodeState> NewDecodeState(int64_t batch, int64_t max_len) const override {
    return branch_->NewDecodeState(batch, max_len);
  }
  Tensor Step(Context& ctx, const Tensor& x, int64_t pos, DecodeState* state) override;
  double ForwardFlops() const override {
    return branch_->ForwardFlops() + static_cast<double>(elements_);
  }
  std::vector<const Layer*> Children() const override { return {branch_.get()}; }
  Layer& branch() { return *branch_; }

 private:
  LayerPtr branch_;
  int64_t elements_ = 0;  // of the last Forward, for its FLOP count
};

// x + dropout(mixer(norm(x))): the pre-norm residual block of every transformer here.
LayerPtr MakePreNormResidual(LayerPtr norm, LayerPtr mixer, float dropout, const std::string& name);

// Applies `count` instances of a block in sequence, all sharing one set of parameters: the
// factory runs `count` times (with the application index) inside a ParamStore::SharedScope,
// declaring the same parameter names each time. Each instance keeps its own activations, so
// backward through every application is exact and the shared gradients accumulate. Use the
// index in dropout names so each application draws its own mask.
class Repeat : public Sequential {
 public:
  using BlockFactory = std::function<LayerPtr(ParamStore&, int index)>;
  Repeat(ParamStore& store, int count, const BlockFactory& make_block);
  std::string type() const override { return "repeat"; }
};

}  // namespace tinylm
