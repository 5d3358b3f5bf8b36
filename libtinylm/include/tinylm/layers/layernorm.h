// LayerNorm over the last dimension with weight and bias, on oneDNN's layer_normalization
// forward and backward primitives.
#pragma once
#include "tinylm/layers/layer.h"

namespace tinylm {

class LayerNorm : public Layer {
 public:
  LayerNorm(ParamStore& store, const std::string& name, int64_t dim, float eps = 1e-5f);
  std::string type() const override { return "layernorm"; }
  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override;
  Tensor Backward(Context& ctx, const Tensor& dy) override;
  std::vector<Param*> Params() const override { return {weight_, bias_}; }
  double ForwardFlops() const override { return 7.0 * static_cast<double>(elements_); }

 private:
  int64_t dim_;
  float eps_;
  Param* weight_;
  Param* bias_;
  Tensor x_, mean_, var_;  // what Backward needs (output and dx come from ctx.Pooled)
  Tensor dweight_, dbias_;  // oneDNN's overwritten parameter gradients, added to the params'
  int64_t elements_ = 0;
};

}  // namespace tinylm
