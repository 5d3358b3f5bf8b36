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
  double ForwardFlops() const override { return y_.defined() ? 7.0 * y_.numel() : 0.0; }

 private:
  int64_t dim_;
  float eps_;
  Param* weight_;
  Param* bias_;
  Tensor x_, y_, mean_, var_, dx_, dweight_, dbias_;
};

}  // namespace tinylm
