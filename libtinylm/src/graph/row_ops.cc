// Ops over rows of the last axis: softmax, log-softmax, RMSNorm, LayerNorm.
#include <absl/strings/str_cat.h>

#include <cmath>

#include "../layers/rmsnorm_kernels.h"
#include "tinylm/tensors/vec_math.h"
#include "op_util.h"
#include "tinylm/graph/ops.h"
#include "tinylm/tensors/ops.h"

namespace tinylm::fn {
namespace {

using graph_detail::AddInto;
using graph_detail::Require;
using graph_detail::S;

// Softmax (log = false) or log-softmax over the last axis; both keep their output for backward.
struct SoftmaxOp final : Op {
  bool log = false;
  const char* name() const override { return log ? "log_softmax" : "softmax"; }
  void Forward(const OpRun& r) override {
    const Tensor& x = r.in(0);
    const int64_t d = x.dim(-1), rows = x.numel() / d;
    const float* px = x.f32();
    float* py = r.out(x.shape()).f32();
    const bool lg = log;
#pragma omp parallel for schedule(static) if (rows > 64)
    for (int64_t q = 0; q < rows; ++q) {
      const float* xr = px + q * d;
      float* yr = py + q * d;
      float mx = -INFINITY;
      for (int64_t j = 0; j < d; ++j) mx = std::max(mx, xr[j]);
      double sum = 0;
      for (int64_t j = 0; j < d; ++j) sum += std::exp(static_cast<double>(xr[j] - mx));
      const double lse = mx + std::log(sum);
      for (int64_t j = 0; j < d; ++j)
        yr[j] = lg ? static_cast<float>(xr[j] - lse) : static_cast<float>(std::exp(xr[j] - lse));
    }
  }
  void Backward(const OpRun& r) override {
    const GradSlot dx = r.din(0);
    if (!dx.needed()) return;
    const Tensor& y = r.out();
    const int64_t d = y.dim(-1), rows = y.numel() / d;
    const float *py = y.f32(), *pg = r.dout().f32();
    float* pd = dx.t->f32();
    const bool lg = log, acc = dx.accumulate;
#pragma omp parallel for schedule(static) if (rows > 64)
    for (int64_t q = 0; q < rows; ++q) {
      const float *yr = py + q * d, *gr = pg + q * d;
      float* dr = pd + q * d;
      double dot = 0;  // softmax: sum g*y ; log-softmax: sum g
      for (int64_t j = 0; j < d; ++j) dot += lg ? gr[j] : static_cast<double>(gr[j]) * yr[j];
      for (int64_t j = 0; j < d; ++j) {
        const float v = lg ? static_cast<float>(gr[j] - std::exp(static_cast<double>(yr[j])) * dot)
                           : static_cast<float>(yr[j] * (gr[j] - dot));
        dr[j] = acc ? dr[j] + v : v;
      }
    }
  }
  double Flops(const OpRun& r) const override { return 5.0 * r.out().numel(); }
};

// y = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps). The same loops as the RmsNorm layer.
struct RmsNormOp final : Op {
  float eps = 1e-6f;
  const char* name() const override { return "rmsnorm"; }
  void Forward(const OpRun& r) override {
    const Tensor& x = r.in(0);
    const int64_t d = x.dim(-1), rows = x.numel() / d;
    const bool has_w = r.has_input(1);
    if (has_w) Require(r.in(1).numel() == d, "weight " + S(r.in(1).shape()) + " for rows of " + std::to_string(d));
    const float* px = x.f32();
    const float* w = has_w ? r.in(1).f32() : nullptr;
    rmsnorm::Forward(px, w, rows, d, eps, r.out(x.shape()).f32(), r.scratch(0, {rows}).f32());
  }
  void Backward(const OpRun& r) override {
    const Tensor& x = r.in(0);
    const int64_t d = x.dim(-1), rows = x.numel() / d;
    const float *px = x.f32(), *pg = r.dout().f32(), *rs = r.scratch(0).f32();
    const float* w = r.has_input(1) ? r.in(1).f32() : nullptr;
    const GradSlot dx = r.din(0);
    if (dx.needed()) rmsnorm::BackwardInput(px, pg, w, rs, rows, d, dx.t->f32(), dx.accumulate);
    const GradSlot dw = r.din(1);
    if (dw.needed()) {
      if (!dw.accumulate) dw.t->SetZero();
      rmsnorm::AccumulateWeightGrad(px, pg, rs, rows, d, dw.t->f32());
    }
  }
  double Flops(const OpRun& r) const override { return 4.0 * r.out().numel(); }
};

// oneDNN layer normalization, as the LayerNorm layer runs it.
struct LayerNormOp final : Op {
  float eps = 1e-5f;
  const char* name() const override { return "layernorm"; }
  dnnl::normalization_flags Flags(const OpRun& r) const {
    return r.has_input(1) ? dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift
                          : dnnl::normalization_flags::none;
  }
  void Forward(const OpRun& r) override {
    using dnnl::memory;
    const Tensor& x = r.in(0);
    const int64_t d = x.dim(-1), rows = x.numel() / d;
    const bool affine = r.has_input(1);
    Require(affine == r.has_input(2), "weight and bias: give both or neither");
    if (affine)
      Require(r.in(1).numel() == d && r.in(2).numel() == d,
              "weight " + S(r.in(1).shape()) + " / bias " + S(r.in(2).shape()) + " for rows of " + std::to_string(d));
    Context& ctx = r.ctx();
    const memory::desc md({rows, d}, memory::data_type::f32, memory::format_tag::ab);
    Tensor& y = r.out(x.shape());
    Tensor& mean = r.scratch(0, {rows});
    Tensor& var = r.scratch(1, {rows});
    const auto flags = Flags(r);
    auto& prim = ctx.cache().Get<dnnl::layer_normalization_forward>(
        absl::StrCat("lnf:", rows, "x", d, ":", eps, ":", static_cast<int>(flags)), [&] {
          dnnl::layer_normalization_forward::desc desc(dnnl::prop_kind::forward_training, md, eps, flags);
          return dnnl::layer_normalization_forward({desc, ctx.engine()});
        });
    const auto& eng = ctx.engine();
    const memory::desc vec({rows}, memory::data_type::f32, memory::format_tag::a);
    const memory::desc pd({d}, memory::data_type::f32, memory::format_tag::a);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(md, eng, x.raw())},
                                         {DNNL_ARG_DST, memory(md, eng, y.raw())},
                                         {DNNL_ARG_MEAN, memory(vec, eng, mean.raw())},
                                         {DNNL_ARG_VARIANCE, memory(vec, eng, var.raw())}};
    if (affine) {
      args.emplace(DNNL_ARG_SCALE, memory(pd, eng, r.in(1).raw()));
      args.emplace(DNNL_ARG_SHIFT, memory(pd, eng, r.in(2).raw()));
    }
    ctx.Execute(prim, args);
  }
  void Backward(const OpRun& r) override {
    using dnnl::memory;
    const Tensor& x = r.in(0);
    const int64_t d = x.dim(-1), rows = x.numel() / d;
    const bool affine = r.has_input(1);
    Context& ctx = r.ctx();
    const memory::desc md({rows, d}, memory::data_type::f32, memory::format_tag::ab);
    const auto flags = Flags(r);
    auto& prim = ctx.cache().Get<dnnl::layer_normalization_backward>(
        absl::StrCat("lnb:", rows, "x", d, ":", eps, ":", static_cast<int>(flags)), [&] {
          dnnl::layer_normalization_forward::desc fd(dnnl::prop_kind::forward_training, md, eps, flags);
          dnnl::layer_normalization_backward::desc desc(dnnl::prop_kind::backward, md, md, eps, flags);
          return dnnl::layer_normalization_backward({desc, ctx.engine(), {fd, ctx.engine()}});
        });
    // oneDNN always computes every gradient and overwrites its outputs: write into the slot
    // when it is a first contribution, else into scratch and add.
    const GradSlot dx = r.din(0);
    Tensor& dx_buf = dx.needed() && !dx.accumulate ? *dx.t : r.scratch(2, x.shape());
    Tensor& dw = r.scratch(3, {d});
    Tensor& db = r.scratch(4, {d});
    const auto& eng = ctx.engine();
    const memory::desc vec({rows}, memory::data_type::f32, memory::format_tag::a);
    const memory::desc pd({d}, memory::data_type::f32, memory::format_tag::a);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(md, eng, x.raw())},
                                         {DNNL_ARG_DIFF_DST, memory(md, eng, r.dout().raw())},
                                         {DNNL_ARG_DIFF_SRC, memory(md, eng, dx_buf.raw())},
                                         {DNNL_ARG_MEAN, memory(vec, eng, r.scratch(0).raw())},
                                         {DNNL_ARG_VARIANCE, memory(vec, eng, r.scratch(1).raw())}};
    if (affine) {
      args.emplace(DNNL_ARG_SCALE, memory(pd, eng, r.in(1).raw()));
      args.emplace(DNNL_ARG_SHIFT, memory(pd, eng, r.in(2).raw()));
      args.emplace(DNNL_ARG_DIFF_SCALE, memory(pd, eng, dw.raw()));
      args.emplace(DNNL_ARG_DIFF_SHIFT, memory(pd, eng, db.raw()));
    }
    ctx.Execute(prim, args);
    if (dx.needed() && dx.accumulate) AddInto(dx, dx_buf);
    if (affine) {
      if (const GradSlot s = r.din(1); s.needed()) AddInto(s, dw);
      if (const GradSlot s = r.din(2); s.needed()) AddInto(s, db);
    }
  }
  double Flops(const OpRun& r) const override { return 5.0 * r.out().numel(); }
};

}  // namespace

Var Softmax(Var x) { return x.graph().Record(SoftmaxOp{}, {x}); }
Var LogSoftmax(Var x) {
  SoftmaxOp o;
  o.log = true;
  return x.graph().Record(o, {x});
}
Var RmsNorm(Var x, Var weight, float eps) {
  RmsNormOp o;
  o.eps = eps;
  return x.graph().Record(o, {x, weight});
}
Var LayerNorm(Var x, Var weight, Var bias, float eps) {
  LayerNormOp o;
  o.eps = eps;
  return x.graph().Record(o, {x, weight, bias});
}

}  // namespace tinylm::fn
