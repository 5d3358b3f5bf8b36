#include "tinylm/layers/rmsnorm.h"

#include <cmath>
#include <stdexcept>

#include "rmsnorm_kernels.h"

namespace tinylm {

RmsNorm::RmsNorm(ParamStore& store, const std::string& name, int64_t dim, float eps)
    : dim_(dim), eps_(eps) {
  weight_ = store.Declare(name + ".weight", {dim}, Init::Constant(1.0f), false);
}

Tensor RmsNorm::Forward(Context&, const Tensor& x, Mode mode) {
  if (x.dim(-1) != dim_)
    throw std::invalid_argument("rmsnorm: input " + ShapeString(x.shape()) + ", expected last dim " +
                                std::to_string(dim_));
  const int64_t rows = x.numel() / dim_, d = dim_;
  EnsureShape(y_, x.shape());
  EnsureShape(rstd_, {rows});
  rmsnorm::Forward(x.f32(), weight_->value.f32(), rows, d, eps_, y_.f32(), rstd_.f32());
  if (mode == Mode::kTrain) x_ = x;
  return y_;
}

Tensor RmsNorm::Backward(Context&, const Tensor& dy) {
  const int64_t rows = x_.numel() / dim_, d = dim_;
  EnsureShape(dx_, x_.shape());
  rmsnorm::BackwardInput(x_.f32(), dy.f32(), weight_->value.f32(), rstd_.f32(), rows, d, dx_.f32(), false);
  rmsnorm::AccumulateWeightGrad(x_.f32(), dy.f32(), rstd_.f32(), rows, d, weight_->grad.f32());
  return dx_;
}

}  // namespace tinylm
