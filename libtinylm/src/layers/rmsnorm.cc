#include "tinylm/layers/rmsnorm.h"

#include <cmath>
#include <stdexcept>

#include "rmsnorm_kernels.h"

namespace tinylm {

RmsNorm::RmsNorm(ParamStore& store, const std::string& name, int64_t dim, float eps)
    : dim_(dim), eps_(eps) {
  weight_ = store.Declare(name + ".weight", {dim}, Init::Constant(1.0f), false);
}

Tensor RmsNorm::Forward(Context& ctx, const Tensor& x, Mode mode) {
  if (x.dim(-1) != dim_)
    throw std::invalid_argument("rmsnorm: input " + ShapeString(x.shape()) + ", expected last dim " +
                                std::to_string(dim_));
  const int64_t rows = x.numel() / dim_, d = dim_;
  Tensor y = ctx.Pooled(x.shape());
  EnsureShape(rstd_, {rows});
  rmsnorm::Forward(x.f32(), weight_->value.f32(), rows, d, eps_, y.f32(), rstd_.f32());
  x_ = mode == Mode::kTrain ? x : Tensor();
  elements_ = x.numel();
  return y;
}

Tensor RmsNorm::Backward(Context& ctx, const Tensor& dy) {
  const int64_t rows = x_.numel() / dim_, d = dim_;
  Tensor dx = ctx.Pooled(x_.shape());
  rmsnorm::BackwardInput(x_.f32(), dy.f32(), weight_->value.f32(), rstd_.f32(), rows, d, dx.f32(), false);
  rmsnorm::AccumulateWeightGrad(x_.f32(), dy.f32(), rstd_.f32(), rows, d, weight_->grad.f32());
  x_ = Tensor();
  return dx;
}

}  // namespace tinylm
