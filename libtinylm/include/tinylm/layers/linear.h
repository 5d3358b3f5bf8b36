// Linear: y = x W^T (+ b), W stored [out, in] as in PyTorch. All three products are oneDNN
// matmuls; the backward ones run on transposed views of the same buffers.
#pragma once
#include "tinylm/layers/layer.h"

namespace tinylm {

class Linear : public Layer {
 public:
  // If `shared_weight` is given (tied output head), it must be [out, in] and is used as W.
  Linear(ParamStore& store, const std::string& name, int64_t in, int64_t out, bool bias,
         float init_std = 0.02f, Param* shared_weight = nullptr);
  std::string type() const override { return "linear"; }
  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override;
  Tensor Backward(Context& ctx, const Tensor& dy) override;
  std::vector<Param*> Params() const override;
  Shape OutputShape(const Shape& in) const override;
  double ForwardFlops() const override;

  Param* weight() const { return weight_; }
  Param* bias() const { return bias_; }

 private:
  int64_t in_, out_;
  Param* weight_;
  Param* bias_ = nullptr;
  // Mixed precision (ctx.bf16_matmuls()): bf16 copies of the weight (remade when the store's
  // version changes) and of the input (kept for backward).
  const Tensor& Bf16Weight();
  Tensor x_;  // the last training Forward's input (outputs and gradients come from ctx.Pooled)
  Shape x_shape_;
  Tensor x_bf16_, w_bf16_;
  int64_t rows_ = 0;  // rows of the last Forward, for its FLOP count
  uint64_t w_bf16_version_ = ~uint64_t{0};
  bool last_bf16_ = false;  // the last training Forward ran in bf16
};

// A ProjectionFactory making Linear layers.
ProjectionFactory LinearProjection(float init_std);

}  // namespace tinylm
