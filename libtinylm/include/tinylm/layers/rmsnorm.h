// RMSNorm over the last dimension: y = x / sqrt(mean(x^2) + eps) * w.
// oneDNN 2.6 has no RMSNorm, so forward and backward are vectorised loops.
#pragma once
#include "tinylm/layers/layer.h"

namespace tinylm {

class RmsNorm : public Layer {
 public:
  RmsNorm(ParamStore& store, const std::string& name, int64_t dim, float eps = 1e-6f);
  std::string type() const override { return "rmsnorm"; }
  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override;
  Tensor Backward(Context& ctx, const Tensor& dy) override;
  std::vector<Param*> Params() const override { return {weight_}; }
  double ForwardFlops() const override { return 4.0 * static_cast<double>(elements_); }

 private:
  int64_t dim_;
  float eps_;
  Param* weight_;
  Tensor x_, rstd_;         // what Backward needs (output and dx come from ctx.Pooled)
  int64_t elements_ = 0;  // of the last Forward, for its FLOP count
};

}  // namespace tinylm
