// The skeleton shared by delta blocks A and C: a token-mixing branch on LN1(x) and an FFN on
// LN2(x1), each added through a learned scalar gate, plus the block's third scalar:
//   x1 = x  + gamma1 * mix(LN1(x))
//   y  = x1 + gamma2 * FFN(LN2(x1)),  FFN: d -> hidden (GELU) -> d, with biases
// The third scalar is alpha (running-mean memory with the delta term), theta (decay memory,
// lambda = sigmoid(theta); the delta weight is then fixed at 1, or 0 with delta off) or absent
// (running mean, delta off). A subclass supplies the mixing branch and its decode state.
#pragma once

#include "delta_lm.pb.h"
#include "tinylm/layers/layernorm.h"
#include "tinylm/layers/mlp.h"
#include "tinylm/plugins/plugin.h"

namespace tinylm::delta_lm {

class ScalarGatedBlock : public Layer {
 public:
  std::vector<Param*> Params() const override;
  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override;
  Tensor Backward(Context& ctx, const Tensor& dy) override;
  Tensor Step(Context& ctx, const Tensor& x, int64_t pos, DecodeState* state) override;
  // Norms, FFN and the mixing branch, plus the two gated residual additions (2 per element each).
  double ForwardFlops() const override {
    return ln1_.ForwardFlops() + ln2_.ForwardFlops() + ffn_.ForwardFlops() + MixFlops() +
           (y_.defined() ? 4.0 * y_.numel() : 0.0);
  }

 protected:
  ScalarGatedBlock(const LayerBuildContext& ctx, const plugins::DeltaBlockConfig& cfg, int64_t ffn_hidden);

  // The mixing branch on h = LN1(x) [B, T, d] for positions pos.. (state: the subclass's decode
  // state, or null for whole sequences from position 0).
  virtual const Tensor& MixForward(Context& ctx, const Tensor& h, Mode mode, int64_t pos, DecodeState* state) = 0;
  // dL/dh from dL/d(branch); adds the third scalar's gradient through AddScalarGradients.
  virtual const Tensor& MixBackward(Context& ctx, const Tensor& dbranch) = 0;
  virtual std::vector<Param*> MixParams() const = 0;
  // FLOPs of the last MixForward.
  virtual double MixFlops() const = 0;

  double alpha() const;   // the delta weight
  bool decay() const { return cfg_.memory() == plugins::DeltaBlockConfig::DECAY; }
  double lambda() const;  // decay memory only
  // dL/dalpha and dL/dlambda summed over every position.
  void AddScalarGradients(double dalpha, double dlambda);

  int64_t d_;
  plugins::DeltaBlockConfig cfg_;

 private:
  Tensor Finish(Context& ctx, const Tensor& x, const Tensor& branch, Mode mode);

  LayerNorm ln1_, ln2_;
  GeluMlp ffn_;
  Param* scalar_ = nullptr;  // alpha, theta or none
  Param *gamma1_, *gamma2_;
  Tensor x_, branch_, x1_, ffn_out_, y_, dx1_, dscaled_, dx_;
};

}  // namespace tinylm::delta_lm
