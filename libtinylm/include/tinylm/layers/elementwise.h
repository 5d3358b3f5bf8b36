// Parameter-free elementwise layers: activations on oneDNN eltwise primitives, and dropout.
#pragma once
#include "tinylm/layers/layer.h"

namespace tinylm {

// y = f(x) for a oneDNN eltwise algorithm (swish with alpha 1 = SiLU, gelu_erf, gelu_tanh).
class Activation : public Layer {
 public:
  Activation(std::string name, dnnl::algorithm alg, float alpha = 0.0f)
      : name_(std::move(name)), alg_(alg), alpha_(alpha) {}
  static LayerPtr Silu() { return std::make_unique<Activation>("silu", dnnl::algorithm::eltwise_swish, 1.0f); }
  static LayerPtr GeluErf() { return std::make_unique<Activation>("gelu_erf", dnnl::algorithm::eltwise_gelu_erf); }
  static LayerPtr GeluTanh() { return std::make_unique<Activation>("gelu_tanh", dnnl::algorithm::eltwise_gelu_tanh); }
  std::string type() const override { return name_; }
  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override;
  Tensor Backward(Context& ctx, const Tensor& dy) override;
  // An exp, a division and a few multiply-adds per element.
  double ForwardFlops() const override { return 8.0 * static_cast<double>(elements_); }

 private:
  std::string name_;
  dnnl::algorithm alg_;
  float alpha_;
  Tensor x_;  // training input, for backward
  int64_t elements_ = 0;
};

// Inverted dropout: in training, y = x * m / (1 - p) with m ~ Bernoulli(1 - p); identity in eval.
// The mask of element i is a pure function of (ctx seed, this layer's id, ctx step, i): the same
// for any thread count, and repeatable within a step (finite-difference checks rely on it).
class Dropout : public Layer {
 public:
  Dropout(const std::string& name, float p);
  std::string type() const override { return "dropout"; }
  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override;
  Tensor Backward(Context& ctx, const Tensor& dy) override;
  double ForwardFlops() const override { return active_ ? 2.0 * static_cast<double>(elements_) : 0.0; }

 private:
  float p_;
  uint64_t id_;
  bool active_ = false;
  Tensor mask_;
  int64_t elements_ = 0;
};

}  // namespace tinylm
