#include "scalar_gated_block.h"

#include "block_math.h"
#include "delta_blocks.h"
#include "tinylm/tensors/ops.h"

namespace tinylm::delta_lm {

using plugins::DeltaBlockConfig;

ScalarGatedBlock::ScalarGatedBlock(const LayerBuildContext& ctx, const DeltaBlockConfig& cfg, int64_t ffn_hidden)
    : d_(ctx.d_model),
      cfg_(cfg),
      ln1_(*ctx.store, ctx.name + ".ln1", d_, 1e-5f),
      ln2_(*ctx.store, ctx.name + ".ln2", d_, 1e-5f),
      ffn_(*ctx.store, ctx.name + ".ffn", d_, ffn_hidden, GeluKind::kErf, true, DenseInitStd(ctx, cfg, d_, ffn_hidden)) {
  if (decay()) scalar_ = ctx.store->Declare(ctx.name + ".theta", {1}, Init::Constant(cfg.theta_init()), false);
  else if (cfg.delta()) scalar_ = ctx.store->Declare(ctx.name + ".alpha", {1}, Init::Constant(cfg.alpha_init()), false);
  gamma1_ = ctx.store->Declare(ctx.name + ".gamma1", {1}, Init::Constant(cfg.gamma_init()), false);
  gamma2_ = ctx.store->Declare(ctx.name + ".gamma2", {1}, Init::Constant(cfg.gamma_init()), false);
}

std::vector<Param*> ScalarGatedBlock::Params() const {
  std::vector<Param*> p = ln1_.Params();
  AppendUnique(p, MixParams());
  AppendUnique(p, ln2_.Params());
  AppendUnique(p, ffn_.Params());
  if (scalar_) p.push_back(scalar_);
  p.push_back(gamma1_);
  p.push_back(gamma2_);
  return p;
}

double ScalarGatedBlock::alpha() const {
  if (decay()) return cfg_.delta() ? 1.0 : 0.0;
  return scalar_ ? scalar_->value.f32()[0] : 0.0;
}

double ScalarGatedBlock::lambda() const { return Sigmoid(scalar_->value.f32()[0]); }

void ScalarGatedBlock::AddScalarGradients(double dalpha, double dlambda) {
  if (!scalar_) return;
  if (decay()) {
    const double l = lambda();
    scalar_->grad.f32()[0] += static_cast<float>(dlambda * l * (1 - l));  // dlambda/dtheta
  } else {
    scalar_->grad.f32()[0] += static_cast<float>(dalpha);
  }
}

Tensor ScalarGatedBlock::Forward(Context& ctx, const Tensor& x, Mode mode) {
  const Tensor& branch = MixForward(ctx, ln1_.Forward(ctx, x, mode), mode, 0, nullptr);
  return Finish(ctx, x, branch, mode);
}

Tensor ScalarGatedBlock::Step(Context& ctx, const Tensor& x, int64_t pos, DecodeState* state) {
  const Tensor& branch = MixForward(ctx, ln1_.Forward(ctx, x, Mode::kEval), Mode::kEval, pos, state);
  return Finish(ctx, x, branch, Mode::kEval);
}

Tensor ScalarGatedBlock::Finish(Context& ctx, const Tensor& x, const Tensor& branch, Mode mode) {
  branch_ = branch;
  AddScaled(x, gamma1_->value.f32()[0], branch, x1_);
  ffn_out_ = ffn_.Forward(ctx, ln2_.Forward(ctx, x1_, mode), mode);
  AddScaled(x1_, gamma2_->value.f32()[0], ffn_out_, y_);
  if (mode == Mode::kTrain) x_ = x;
  return y_;
}

Tensor ScalarGatedBlock::Backward(Context& ctx, const Tensor& dy) {
  const float g1 = gamma1_->value.f32()[0], g2 = gamma2_->value.f32()[0];
  gamma2_->grad.f32()[0] += static_cast<float>(Dot(dy, ffn_out_));
  const Tensor dx1_branch = ln2_.Backward(ctx, ffn_.Backward(ctx, Scaled(dy, g2, dscaled_)));
  EnsureShape(dx1_, dy.shape());
  Add(dy, dx1_branch, dx1_);
  gamma1_->grad.f32()[0] += static_cast<float>(Dot(dx1_, branch_));
  const Tensor dx0 = ln1_.Backward(ctx, MixBackward(ctx, Scaled(dx1_, g1, dscaled_)));
  EnsureShape(dx_, dy.shape());
  Add(dx1_, dx0, dx_);
  return dx_;
}

}  // namespace tinylm::delta_lm
