// Sum and mean over one axis (double accumulation, fixed order: thread-count independent).
#include "op_util.h"
#include "tinylm/graph/ops.h"

namespace tinylm::fn {
namespace {

using graph_detail::NormAxis;
using graph_detail::Prod;

struct ReduceOp final : Op {
  int axis = 0;
  bool keepdim = false, mean = false;
  const char* name() const override { return mean ? "mean" : "sum"; }
  void Forward(const OpRun& r) override {
    const Tensor& x = r.in(0);
    const int a = NormAxis(axis, x.rank(), name());
    const int64_t outer = Prod(x.shape(), 0, a), n = x.dim(a), inner = Prod(x.shape(), a + 1, x.rank());
    Shape s = x.shape();
    if (keepdim) s[a] = 1;
    else s.erase(s.begin() + a);
    const float* px = x.f32();
    float* py = r.out(s).f32();
    const double scale = mean ? 1.0 / static_cast<double>(n) : 1.0;
#pragma omp parallel for schedule(static) if (outer * inner > 256)
    for (int64_t oi = 0; oi < outer * inner; ++oi) {
      const int64_t o = oi / inner, i = oi % inner;
      double acc = 0;
      for (int64_t j = 0; j < n; ++j) acc += px[(o * n + j) * inner + i];
      py[oi] = static_cast<float>(acc * scale);
    }
  }
  void Backward(const OpRun& r) override {
    const GradSlot dx = r.din(0);
    if (!dx.needed()) return;
    const Tensor& x = r.in(0);
    const int a = NormAxis(axis, x.rank(), name());
    const int64_t n = x.dim(a), inner = Prod(x.shape(), a + 1, x.rank());
    const float* g = r.dout().f32();
    const float scale = mean ? 1.0f / static_cast<float>(n) : 1.0f;
    graph_detail::WriteGrad(dx, [=](int64_t k) { return g[(k / (n * inner)) * inner + k % inner] * scale; });
  }
  double Flops(const OpRun& r) const override { return static_cast<double>(r.in(0).numel()); }
};

Var Reduce(Var x, int axis, bool keepdim, bool mean) {
  ReduceOp o;
  o.axis = axis;
  o.keepdim = keepdim;
  o.mean = mean;
  return x.graph().Record(o, {x});
}

}  // namespace

Var Sum(Var x, int axis, bool keepdim) { return Reduce(x, axis, keepdim, false); }
Var Mean(Var x, int axis, bool keepdim) { return Reduce(x, axis, keepdim, true); }

}  // namespace tinylm::fn
