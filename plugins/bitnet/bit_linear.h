// BitLinear of BitNet b1.58 (see bit_linear.cc for the computation).
#pragma once

#include "bitnet.pb.h"
#include "tinylm/plugins/plugin.h"

namespace tinylm::bitnet {

class BitLinear : public Layer {
 public:
  // In and out widths are the projection's (ctx.in_dim, ctx.out_dim), or d_model as a layer.
  BitLinear(const LayerBuildContext& ctx, const plugins::BitLinearConfig& cfg);
  std::string type() const override { return "bitlinear"; }
  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override;
  Tensor Backward(Context& ctx, const Tensor& dy) override;
  std::vector<Param*> Params() const override;
  Shape OutputShape(const Shape& in) const override;
  // The matmul, plus norm (4), activation quantisation (4) per input element and weight
  // quantisation (3) per weight element when on.
  double ForwardFlops() const override;

 private:
  int64_t in_, out_;
  plugins::BitLinearConfig cfg_;
  Param* weight_;
  std::vector<int64_t> parts_;  // output rows per fused part, each with its own weight scale
  Tensor x_, normed_, inv_rms_, acts_q_, weights_q_, y_;
  Tensor normed_used_, acts_used_, weights_;  // what the last forward multiplied
  Tensor dnormed_, dx_;
};

}  // namespace tinylm::bitnet
