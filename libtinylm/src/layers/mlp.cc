#include "tinylm/layers/mlp.h"

#include <cmath>

#include "tinylm/tensors/ops.h"
#include "tinylm/tensors/vec_math.h"

#include "tinylm/tensors/parallel.h"

namespace tinylm {

SwiGlu::SwiGlu(ParamStore& store, const std::string& name, int64_t dim, int64_t hidden, bool bias,
               float init_std, ProjectionFactory projection)
    : hidden_(hidden) {
  const ProjectionFactory project = projection ? projection : LinearProjection(init_std);
  gate_up_ = project(store, name + ".gate_up", dim, 2 * hidden, bias, {hidden, hidden});
  down_ = project(store, name + ".down", hidden, dim, bias, {});
}

std::vector<Param*> SwiGlu::Params() const {
  std::vector<Param*> p = gate_up_->Params();
  AppendUnique(p, down_->Params());
  return p;
}

double SwiGlu::ForwardFlops() const {  // silu(g) * u: an exp, a division, three multiplies
  return gate_up_->ForwardFlops() + down_->ForwardFlops() + 6.0 * static_cast<double>(h_elements_);
}

Tensor SwiGlu::Forward(Context& ctx, const Tensor& x, Mode mode) {
  const Tensor gu = gate_up_->Forward(ctx, x, mode);  // [.., 2F]
  const int64_t rows = gu.numel() / (2 * hidden_), f = hidden_;
  Shape hs = x.shape();
  hs.back() = f;
  Tensor h = ctx.Pooled(hs);
  h_elements_ = h.numel();
  const float* pgu = gu.f32();
  float* ph = h.f32();
  ParallelFor(rows, 17, [&](int64_t r) {
    const float* g = pgu + r * 2 * f;
    const float* u = g + f;
    float* h = ph + r * f;
#pragma omp simd
    for (int64_t j = 0; j < f; ++j) h[j] = g[j] * VecSigmoid(g[j]) * u[j];
  });
  gu_ = mode == Mode::kTrain ? gu : Tensor();
  return down_->Forward(ctx, h, mode);
}

Tensor SwiGlu::Backward(Context& ctx, const Tensor& dy) {
  const Tensor dh = down_->Backward(ctx, dy);
  const int64_t rows = gu_.numel() / (2 * hidden_), f = hidden_;
  Tensor dgu = ctx.Pooled(gu_.shape());
  const float* pgu = gu_.f32();
  const float* pdh = dh.f32();
  float* pd = dgu.f32();
  // h = silu(g) u: dg = dh u silu'(g), du = dh silu(g), silu'(g) = s (1 + g (1 - s)), s = sigmoid(g)
  ParallelFor(rows, 17, [&](int64_t r) {
    const float* g = pgu + r * 2 * f;
    const float* u = g + f;
    const float* d = pdh + r * f;
    float* dg = pd + r * 2 * f;
    float* du = dg + f;
#pragma omp simd
    for (int64_t j = 0; j < f; ++j) {
      const float s = VecSigmoid(g[j]);
      du[j] = d[j] * g[j] * s;
      dg[j] = d[j] * u[j] * s * (1.0f + g[j] * (1.0f - s));
    }
  });
  gu_ = Tensor();
  return gate_up_->Backward(ctx, dgu);
}

GeluMlp::GeluMlp(ParamStore& store, const std::string& name, int64_t dim, int64_t hidden,
                 GeluKind kind, bool bias, float init_std, ProjectionFactory projection, float hidden_dropout)
    : alg_(kind == GeluKind::kErf ? dnnl::algorithm::eltwise_gelu_erf
                                  : dnnl::algorithm::eltwise_gelu_tanh) {
  const ProjectionFactory project = projection ? projection : LinearProjection(init_std);
  fc1_ = project(store, name + ".fc1", dim, hidden, bias, {});
  fc2_ = project(store, name + ".fc2", hidden, dim, bias, {});
  if (hidden_dropout > 0.0f) dropout_ = std::make_unique<Dropout>(name + ".hidden_dropout", hidden_dropout);
}

std::vector<Param*> GeluMlp::Params() const {
  std::vector<Param*> p = fc1_->Params();
  AppendUnique(p, fc2_->Params());
  return p;
}

double GeluMlp::ForwardFlops() const {
  return fc1_->ForwardFlops() + fc2_->ForwardFlops() + (dropout_ ? dropout_->ForwardFlops() : 0.0) +
         8.0 * static_cast<double>(act_elements_);
}

std::vector<const Layer*> GeluMlp::Children() const {
  std::vector<const Layer*> c{fc1_.get(), fc2_.get()};
  if (dropout_) c.push_back(dropout_.get());
  return c;
}

Tensor GeluMlp::Forward(Context& ctx, const Tensor& x, Mode mode) {
  const Tensor pre = fc1_->Forward(ctx, x, mode);
  Tensor act = ctx.Pooled(pre.shape());
  EltwiseForward(ctx, alg_, 0.0f, pre, act);
  act_elements_ = act.numel();
  pre_ = mode == Mode::kTrain ? pre : Tensor();
  return fc2_->Forward(ctx, dropout_ ? dropout_->Forward(ctx, act, mode) : act, mode);
}

Tensor GeluMlp::Backward(Context& ctx, const Tensor& dy) {
  Tensor dact = fc2_->Backward(ctx, dy);
  if (dropout_) dact = dropout_->Backward(ctx, dact);
  Tensor dpre = ctx.Pooled(pre_.shape());
  EltwiseBackward(ctx, alg_, 0.0f, pre_, dact, dpre);
  pre_ = Tensor();
  return fc1_->Backward(ctx, dpre);
}

}  // namespace tinylm
