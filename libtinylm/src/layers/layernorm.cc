#include "tinylm/layers/layernorm.h"

#include <absl/strings/str_cat.h>

#include <stdexcept>

#include "tinylm/tensors/ops.h"

namespace tinylm {

using dnnl::memory;
using dnnl::normalization_flags;

LayerNorm::LayerNorm(ParamStore& store, const std::string& name, int64_t dim, float eps)
    : dim_(dim), eps_(eps) {
  weight_ = store.Declare(name + ".weight", {dim}, Init::Constant(1.0f), false);
  bias_ = store.Declare(name + ".bias", {dim}, Init::Constant(0.0f), false);
}

namespace {
const normalization_flags kFlags = normalization_flags::use_scale | normalization_flags::use_shift;

dnnl::layer_normalization_forward::primitive_desc ForwardPd(Context& ctx, const memory::desc& md,
                                                           float eps) {
  dnnl::layer_normalization_forward::desc d(dnnl::prop_kind::forward_training, md, eps, kFlags);
  return {d, ctx.engine()};
}
}  // namespace

Tensor LayerNorm::Forward(Context& ctx, const Tensor& x, Mode mode) {
  if (x.dim(-1) != dim_)
    throw std::invalid_argument("layernorm: input " + ShapeString(x.shape()) +
                                ", expected last dim " + std::to_string(dim_));
  const int64_t rows = x.numel() / dim_;
  const memory::desc md({rows, dim_}, memory::data_type::f32, memory::format_tag::ab);
  Tensor y = ctx.Pooled(x.shape());
  EnsureShape(mean_, {rows});
  EnsureShape(var_, {rows});
  auto& prim = ctx.cache().Get<dnnl::layer_normalization_forward>(
      absl::StrCat("lnf:", rows, "x", dim_, ":", eps_),
      [&] { return dnnl::layer_normalization_forward(ForwardPd(ctx, md, eps_)); });
  const auto& eng = ctx.engine();
  const memory::desc vec({rows}, memory::data_type::f32, memory::format_tag::a);
  const memory::desc pd({dim_}, memory::data_type::f32, memory::format_tag::a);
  ctx.Execute(prim, {{DNNL_ARG_SRC, memory(md, eng, x.raw())},
                     {DNNL_ARG_DST, memory(md, eng, y.raw())},
                     {DNNL_ARG_SCALE, memory(pd, eng, weight_->value.raw())},
                     {DNNL_ARG_SHIFT, memory(pd, eng, bias_->value.raw())},
                     {DNNL_ARG_MEAN, memory(vec, eng, mean_.raw())},
                     {DNNL_ARG_VARIANCE, memory(vec, eng, var_.raw())}});
  x_ = mode == Mode::kTrain ? x : Tensor();
  elements_ = x.numel();
  return y;
}

Tensor LayerNorm::Backward(Context& ctx, const Tensor& dy) {
  const int64_t rows = x_.numel() / dim_;
  const memory::desc md({rows, dim_}, memory::data_type::f32, memory::format_tag::ab);
  Tensor dx = ctx.Pooled(x_.shape());
  EnsureShape(dweight_, {dim_});
  EnsureShape(dbias_, {dim_});
  auto& prim = ctx.cache().Get<dnnl::layer_normalization_backward>(
      absl::StrCat("lnb:", rows, "x", dim_, ":", eps_), [&] {
        dnnl::layer_normalization_backward::desc d(dnnl::prop_kind::backward, md, md, eps_, kFlags);
        return dnnl::layer_normalization_backward(
            dnnl::layer_normalization_backward::primitive_desc(d, ctx.engine(),
                                                               ForwardPd(ctx, md, eps_)));
      });
  const auto& eng = ctx.engine();
  const memory::desc vec({rows}, memory::data_type::f32, memory::format_tag::a);
  const memory::desc pd({dim_}, memory::data_type::f32, memory::format_tag::a);
  ctx.Execute(prim, {{DNNL_ARG_SRC, memory(md, eng, x_.raw())},
                     {DNNL_ARG_DIFF_DST, memory(md, eng, dy.raw())},
                     {DNNL_ARG_DIFF_SRC, memory(md, eng, dx.raw())},
                     {DNNL_ARG_SCALE, memory(pd, eng, weight_->value.raw())},
                     {DNNL_ARG_SHIFT, memory(pd, eng, bias_->value.raw())},
                     {DNNL_ARG_MEAN, memory(vec, eng, mean_.raw())},
                     {DNNL_ARG_VARIANCE, memory(vec, eng, var_.raw())},
                     {DNNL_ARG_DIFF_SCALE, memory(pd, eng, dweight_.raw())},
                     {DNNL_ARG_DIFF_SHIFT, memory(pd, eng, dbias_.raw())}});
  // oneDNN overwrites diff_scale/shift; parameter gradients must accumulate.
  AddInPlace(weight_->grad, dweight_);
  AddInPlace(bias_->grad, dbias_);
  x_ = Tensor();
  return dx;
}

}  // namespace tinylm
