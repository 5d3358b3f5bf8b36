// Elementwise functions of one input. Where oneDNN has the function (eltwise forward and
// backward primitives), it computes it, so graph layers match the hand-written ones exactly.
#include "op_util.h"
#include "tinylm/graph/ops.h"
#include "tinylm/tensors/ops.h"

namespace tinylm::fn {
namespace {

using graph_detail::AddInto;
using graph_detail::WriteGrad;

struct EltwiseOp final : Op {
  const char* label = "";
  dnnl::algorithm alg = dnnl::algorithm::eltwise_relu;
  float alpha = 0.0f;
  double flops_per_element = 1;
  const char* name() const override { return label; }
  void Forward(const OpRun& r) override {
    const Tensor& x = r.in(0);
    EltwiseForward(r.ctx(), alg, alpha, x, r.out(x.shape()));
  }
  void Backward(const OpRun& r) override {
    const GradSlot dx = r.din(0);
    if (!dx.needed()) return;
    if (!dx.accumulate) return EltwiseBackward(r.ctx(), alg, alpha, r.in(0), r.dout(), *dx.t);
    Tensor& tmp = r.scratch(0, r.in(0).shape());
    EltwiseBackward(r.ctx(), alg, alpha, r.in(0), r.dout(), tmp);
    AddInto(dx, tmp);
  }
  double Flops(const OpRun& r) const override { return flops_per_element * r.out().numel(); }
};

Var Eltwise(Var x, const char* label, dnnl::algorithm alg, float alpha, double flops) {
  EltwiseOp o;
  o.label = label;
  o.alg = alg;
  o.alpha = alpha;
  o.flops_per_element = flops;
  return x.graph().Record(o, {x});
}

// y = alpha * x.
struct ScaleOp final : Op {
  float alpha = 1.0f;
  const char* name() const override { return "scale"; }
  void Forward(const OpRun& r) override {
    const Tensor& x = r.in(0);
    const float* px = x.f32();
    float* py = r.out(x.shape()).f32();
    const float a = alpha;
    const int64_t n = x.numel();
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; ++i) py[i] = a * px[i];
  }
  void Backward(const OpRun& r) override {
    const GradSlot dx = r.din(0);
    if (!dx.needed()) return;
    const float* g = r.dout().f32();
    const float a = alpha;
    WriteGrad(dx, [=](int64_t i) { return a * g[i]; });
  }
};

// y = relu(x)^2.
struct Relu2Op final : Op {
  const char* name() const override { return "relu2"; }
  void Forward(const OpRun& r) override {
    const Tensor& x = r.in(0);
    const float* px = x.f32();
    float* py = r.out(x.shape()).f32();
    const int64_t n = x.numel();
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; ++i) py[i] = px[i] > 0.0f ? px[i] * px[i] : 0.0f;
  }
  void Backward(const OpRun& r) override {
    const GradSlot dx = r.din(0);
    if (!dx.needed()) return;
    const float *px = r.in(0).f32(), *g = r.dout().f32();
    WriteGrad(dx, [=](int64_t i) { return px[i] > 0.0f ? 2.0f * px[i] * g[i] : 0.0f; });
  }
  double Flops(const OpRun& r) const override { return 2.0 * r.out().numel(); }
};

}  // namespace

using dnnl::algorithm;
Var Exp(Var x) { return Eltwise(x, "exp", algorithm::eltwise_exp, 0, 1); }
Var Log(Var x) { return Eltwise(x, "log", algorithm::eltwise_log, 0, 1); }
Var Tanh(Var x) { return Eltwise(x, "tanh", algorithm::eltwise_tanh, 0, 1); }
Var Sigmoid(Var x) { return Eltwise(x, "sigmoid", algorithm::eltwise_logistic, 0, 3); }
Var Silu(Var x) { return Eltwise(x, "silu", algorithm::eltwise_swish, 1.0f, 4); }
Var GeluErf(Var x) { return Eltwise(x, "gelu_erf", algorithm::eltwise_gelu_erf, 0, 8); }
Var GeluTanh(Var x) { return Eltwise(x, "gelu_tanh", algorithm::eltwise_gelu_tanh, 0, 8); }
Var Relu(Var x) { return Eltwise(x, "relu", algorithm::eltwise_relu, 0, 1); }
Var Softplus(Var x) { return Eltwise(x, "softplus", algorithm::eltwise_soft_relu, 1.0f, 3); }
Var Relu2(Var x) { return x.graph().Record(Relu2Op{}, {x}); }
Var Scale(Var x, float alpha) {
  ScaleOp o;
  o.alpha = alpha;
  return x.graph().Record(o, {x});
}

}  // namespace tinylm::fn
