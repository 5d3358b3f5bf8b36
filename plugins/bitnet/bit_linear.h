// BitLinear of BitNet b1.58 (see bit_linear.cc for the computation).
#pragma once

#include <algorithm>
#include <memory>

#include "bitnet.pb.h"
#include "ternary_kernels.h"
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
  // The matmul, plus norm (4) and activation quantisation (4) per input element when on.
  double ForwardFlops() const override;
  // Packed form (model/packed.h): "<weight>.ternary" (2-bit codes) and "<weight>.scales" (one
  // per fused part). A layer read from it runs int8 activations x ternary weights.
  std::vector<Param*> WritePacked(PackedWriter& w) const override;
  std::vector<Param*> ReadPacked(const PackedReader& r) override;

 private:
  // The weights the matmuls use: the ternary ones (dequantised, one scale per part), remade
  // only when the store's version moved, or the latent ones when weight quantisation is off.
  const Tensor& Weights();

  int64_t in_, out_;
  plugins::BitLinearConfig cfg_;
  Param* weight_;
  std::vector<int64_t> parts_;  // output rows per fused part, each with its own weight scale
  Tensor weights_q_;            // cached ternary weights, current while version == weights_version_
  uint64_t weights_version_ = 0;
  Tensor inv_rms_;                   // per row, for backward
  Tensor normed_used_, acts_used_;   // what the last training forward multiplied (until Backward)
  Shape x_shape_;
  int64_t rows_ = 0;  // of the last Forward, for its FLOP count
  // Packed inference (after ReadPacked): the codes as an int8 matrix, and their dequantised
  // values for when activations are not quantised to 8 bits or fewer.
  std::unique_ptr<TernaryMatrix> packed_;
  Tensor packed_dequantized_;
  std::vector<uint8_t> act_bytes_;
  std::vector<float> act_scales_;
  // Rows worth a thread team (about 64k elements); fewer run as a plain loop (decode).
  int64_t MinParallelRows() const { return std::max<int64_t>(2, 65536 / in_); }
  bool Int8Path() const { return cfg_.quantize_activations() && cfg_.activation_bits() <= 8; }
};

}  // namespace tinylm::bitnet
