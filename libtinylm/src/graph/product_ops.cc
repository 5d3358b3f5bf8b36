// Matmul and linear on oneDNN matmul primitives. oneDNN has no matmul backward, so gradients
// are matmuls over transposed strided views of the same buffers (the same fast kernels), with
// the sum post-op when a gradient accumulates.
#include "op_util.h"
#include "tinylm/graph/ops.h"
#include "tinylm/tensors/ops.h"

namespace tinylm::fn {
namespace {

using graph_detail::Require;
using graph_detail::S;

// C = op(A) . op(B) for 2-D or 3-D operands.
struct MatmulOp final : Op {
  bool ta = false, tb = false;
  const char* name() const override { return "matmul"; }
  void Forward(const OpRun& r) override {
    const Tensor &a = r.in(0), &b = r.in(1);
    Require(a.rank() == b.rank() && (a.rank() == 2 || a.rank() == 3),
            "operands " + S(a.shape()) + " and " + S(b.shape()) + ": both 2-D or both 3-D");
    const int k = a.rank();
    const int64_t m = ta ? a.dim(k - 1) : a.dim(k - 2), n = tb ? b.dim(k - 2) : b.dim(k - 1);
    Shape out = k == 3 ? Shape{a.dim(0), m, n} : Shape{m, n};
    MatmulOptions o;
    o.trans_a = ta;
    o.trans_b = tb;
    Matmul(r.ctx(), a, b, r.out(out), o);
  }
  void Backward(const OpRun& r) override {
    const Tensor &a = r.in(0), &b = r.in(1), &g = r.dout();
    if (const GradSlot da = r.din(0); da.needed()) {
      MatmulOptions o;
      o.accumulate = da.accumulate;
      if (!ta) {  // dA = dC . op(B)^T
        o.trans_b = !tb;
        Matmul(r.ctx(), g, b, *da.t, o);
      } else {  // dA = op(B) . dC^T
        o.trans_a = tb;
        o.trans_b = true;
        Matmul(r.ctx(), b, g, *da.t, o);
      }
    }
    if (const GradSlot db = r.din(1); db.needed()) {
      MatmulOptions o;
      o.accumulate = db.accumulate;
      if (!tb) {  // dB = op(A)^T . dC
        o.trans_a = !ta;
        Matmul(r.ctx(), a, g, *db.t, o);
      } else {  // dB = dC^T . op(A)
        o.trans_a = true;
        o.trans_b = ta;
        Matmul(r.ctx(), g, a, *db.t, o);
      }
    }
  }
  double Flops(const OpRun& r) const override {
    const Tensor& a = r.in(0);
    const int64_t k = ta ? a.dim(-2) : a.dim(-1);
    return 2.0 * static_cast<double>(r.out().numel()) * k;
  }
};

// y = x W^T + b over the last axis of x (any leading shape); W [out, in], b [out].
struct LinearOp final : Op {
  const char* name() const override { return "linear"; }
  void Forward(const OpRun& r) override {
    const Tensor &x = r.in(0), &w = r.in(1);
    Require(w.rank() == 2 && x.dim(-1) == w.dim(1),
            "input " + S(x.shape()) + " and weight " + S(w.shape()) + ": weight must be [out, " +
                std::to_string(x.dim(-1)) + "]");
    const int64_t in = w.dim(1), out = w.dim(0), m = x.numel() / in;
    Shape s = x.shape();
    s.back() = out;
    MatmulOptions o;
    o.trans_b = true;
    if (r.has_input(2)) {
      Require(r.in(2).numel() == out, "bias " + S(r.in(2).shape()) + " for " + std::to_string(out) + " outputs");
      o.bias = &r.in(2);
    }
    if (m <= kFewRows && x.dtype() == DType::kF32)  // decode: as the Linear layer
      FewRowsTimesTransposed(x.f32(), m, w.f32(), out, in, o.bias ? o.bias->f32() : nullptr, r.out(s).f32());
    else
      Matmul(r.ctx(), x.Reshape({m, in}), w, r.out(s).Reshape({m, out}), o);
  }
  void Backward(const OpRun& r) override {
    const Tensor &x = r.in(0), &w = r.in(1);
    const int64_t in = w.dim(1), out = w.dim(0), m = x.numel() / in;
    const Tensor g = r.dout().Reshape({m, out});
    if (const GradSlot dw = r.din(1); dw.needed()) {  // dW (+)= dY^T X
      MatmulOptions o;
      o.trans_a = true;
      o.accumulate = dw.accumulate;
      Matmul(r.ctx(), g, x.Reshape({m, in}), *dw.t, o);
    }
    if (const GradSlot db = r.din(2); db.needed()) {  // db (+)= 1^T dY
      if (!db.accumulate) db.t->SetZero();
      AccumulateColumnSums(r.ctx(), g, *db.t);
    }
    if (const GradSlot dx = r.din(0); dx.needed()) {  // dX (+)= dY W
      MatmulOptions o;
      o.accumulate = dx.accumulate;
      Matmul(r.ctx(), g, w, dx.t->Reshape({m, in}), o);
    }
  }
  double Flops(const OpRun& r) const override {
    return 2.0 * static_cast<double>(r.out().numel()) * r.in(1).dim(1);
  }
};

}  // namespace

Var Matmul(Var a, Var b, bool trans_a, bool trans_b) {
  MatmulOp o;
  o.ta = trans_a;
  o.tb = trans_b;
  return a.graph().Record(o, {a, b});
}

Var Linear(Var x, Var weight, Var bias) { return x.graph().Record(LinearOp{}, {x, weight, bias}); }

}  // namespace tinylm::fn
