#include "tinylm/layers/linear.h"

#include <stdexcept>

#include "tinylm/tensors/ops.h"

namespace tinylm {

Linear::Linear(ParamStore& store, const std::string& name, int64_t in, int64_t out, bool bias,
               float init_std, Param* shared_weight)
    : in_(in), out_(out) {
  if (shared_weight) {
    if (shared_weight->shape != Shape{out, in})
      throw std::invalid_argument(name + ": tied weight " + shared_weight->name + " has shape " +
                                  ShapeString(shared_weight->shape) + ", need [" +
                                  std::to_string(out) + "," + std::to_string(in) + "]");
    weight_ = shared_weight;
  } else {
    weight_ = store.Declare(name + ".weight", {out, in}, Init::Normal(init_std), true);
  }
  if (bias) bias_ = store.Declare(name + ".bias", {out}, Init::Constant(0.0f), false);
}

std::vector<Param*> Linear::Params() const {
  if (bias_) return {weight_, bias_};
  return {weight_};
}

Shape Linear::OutputShape(const Shape& in) const {
  Shape s = in;
  s.back() = out_;
  return s;
}

double Linear::ForwardFlops() const {
  return static_cast<double>(rows_) * out_ * (2.0 * in_ + (bias_ ? 1 : 0));
}

Tensor Linear::Forward(Context& ctx, const Tensor& x, Mode mode) {
  if (x.dim(-1) != in_)
    throw std::invalid_argument("linear: input " + ShapeString(x.shape()) + ", expected last dim " +
                                std::to_string(in_));
  const int64_t m = x.numel() / in_;
  Tensor y = ctx.Pooled(OutputShape(x.shape()));
  rows_ = m;
  last_bf16_ = false;
  if (m <= kFewRows) {  // batch-1 decode: a plain loop beats a oneDNN call's set-up (see ops.h)
    FewRowsTimesTransposed(x.f32(), m, weight_->value.f32(), out_, in_, bias_ ? bias_->value.f32() : nullptr,
                           y.f32());
  } else {  // mixed precision: bf16 x bf16 -> fp32 accumulation and output
    const bool bf16 = ctx.bf16_matmuls();
    MatmulOptions o;
    o.trans_b = true;
    o.bias = bias_ ? &bias_->value : nullptr;
    Tensor xb = x;
    if (bf16) {
      xb = ctx.Pooled(x.shape(), DType::kBF16);
      ConvertToBf16(x.f32(), xb.bf16(), x.numel());
    }
    Matmul(ctx, xb.Reshape({m, in_}), bf16 ? Bf16Weight() : weight_->value, y.Reshape({m, out_}), o);
    last_bf16_ = bf16 && mode == Mode::kTrain;
    x_bf16_ = last_bf16_ ? xb : Tensor();
  }
  // Backward's input in the precision it multiplies (a bf16 step keeps only the bf16 copy); an
  // evaluation keeps nothing.
  x_ = mode == Mode::kTrain && !last_bf16_ ? x : Tensor();
  x_shape_ = x.shape();
  return y;
}

const Tensor& Linear::Bf16Weight() {
  // Param::version is set once the store is allocated, which Forward needs anyway.
  if (!w_bf16_.defined() || *weight_->version != w_bf16_version_) {
    ToBf16(weight_->value, w_bf16_);
    w_bf16_version_ = *weight_->version;
  }
  return w_bf16_;
}

Tensor Linear::Backward(Context& ctx, const Tensor& dy) {
  const int64_t m = dy.numel() / out_;
  const Tensor dy2 = dy.Reshape({m, out_});
  // The products in the precision of the last training Forward; the bias gradient from fp32 dy.
  Tensor g = dy2;
  if (last_bf16_) {
    g = ctx.Pooled(dy2.shape(), DType::kBF16);
    ConvertToBf16(dy2.f32(), g.bf16(), dy2.numel());
  }
  // dW += dY^T X
  MatmulOptions w;
  w.trans_a = true;
  w.accumulate = true;
  Matmul(ctx, g, (last_bf16_ ? x_bf16_ : x_).Reshape({m, in_}), weight_->grad, w);
  if (bias_) AccumulateColumnSums(ctx, dy2, bias_->grad);
  // dX = dY W
  Tensor dx = ctx.Pooled(x_shape_);
  Matmul(ctx, g, last_bf16_ ? Bf16Weight() : weight_->value, dx.Reshape({m, in_}));
  x_ = x_bf16_ = Tensor();  // saved activations are done with: their buffers go back to the pool
  return dx;
}

ProjectionFactory LinearProjection(float init_std) {
  return [init_std](ParamStore& s, const std::string& name, int64_t in, int64_t out, bool bias,
                    const std::vector<int64_t>&) -> LayerPtr {
    return std::make_unique<Linear>(s, name, in, out, bias, init_std);
  };
}

}  // namespace tinylm
