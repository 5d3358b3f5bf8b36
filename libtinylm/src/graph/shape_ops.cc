// Reshape, transpose, slice / split, concat, gather and dropout.
#include <cstring>

#include "op_util.h"
#include "tinylm/graph/ops.h"
#include "tinylm/tensors/rng.h"

namespace tinylm::fn {
namespace {

using graph_detail::AddInto;
using graph_detail::NormAxis;
using graph_detail::Prod;
using graph_detail::Require;
using graph_detail::S;
using graph_detail::WriteGrad;

// A view: same bytes, new shape.
struct ReshapeOp final : Op {
  Shape shape;
  const char* name() const override { return "reshape"; }
  void Forward(const OpRun& r) override {
    const Tensor& x = r.in(0);
    Shape s = shape;
    int64_t known = 1, unknown = -1;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == -1) {
        Require(unknown < 0, "more than one -1 in " + S(shape));
        unknown = static_cast<int64_t>(i);
      } else {
        known *= s[i];
      }
    }
    if (unknown >= 0 && known > 0) s[unknown] = x.numel() / known;
    Require(NumElements(s) == x.numel(), "cannot reshape " + S(x.shape()) + " to " + S(shape));
    r.set_out(x.Reshape(s));
  }
  void Backward(const OpRun& r) override {
    if (const GradSlot s = r.din(0); s.needed()) AddInto(s, r.dout());
  }
  double Flops(const OpRun&) const override { return 0; }
};

// Swaps two axes: [pre, A, mid, B, post] -> [pre, B, mid, A, post].
struct TransposeOp final : Op {
  int a0 = 0, a1 = 1;
  const char* name() const override { return "transpose"; }
  static void Move(const float* src, float* dst, const Shape& in, int a, int b, bool acc) {
    const int64_t pre = Prod(in, 0, a), na = in[a], mid = Prod(in, a + 1, b), nb = in[b],
                  post = Prod(in, b + 1, static_cast<int>(in.size()));
#pragma omp parallel for collapse(2) schedule(static) if (pre * na > 16)
    for (int64_t p = 0; p < pre; ++p)
      for (int64_t i = 0; i < na; ++i)
        for (int64_t m = 0; m < mid; ++m)
          for (int64_t j = 0; j < nb; ++j) {
            const float* s = src + (((p * na + i) * mid + m) * nb + j) * post;
            float* d = dst + (((p * nb + j) * mid + m) * na + i) * post;
            for (int64_t q = 0; q < post; ++q) d[q] = acc ? d[q] + s[q] : s[q];
          }
  }
  void Forward(const OpRun& r) override {
    const Tensor& x = r.in(0);
    int a = NormAxis(a0, x.rank(), name()), b = NormAxis(a1, x.rank(), name());
    if (a > b) std::swap(a, b);
    Shape s = x.shape();
    std::swap(s[a], s[b]);
    if (a == b) return r.set_out(x);
    Move(x.f32(), r.out(s).f32(), x.shape(), a, b, false);
  }
  void Backward(const OpRun& r) override {
    const GradSlot s = r.din(0);
    if (!s.needed()) return;
    int a = NormAxis(a0, r.in(0).rank(), name()), b = NormAxis(a1, r.in(0).rank(), name());
    if (a > b) std::swap(a, b);
    if (a == b) return AddInto(s, r.dout());
    Move(r.dout().f32(), s.t->f32(), r.dout().shape(), a, b, s.accumulate);
  }
  double Flops(const OpRun&) const override { return 0; }
};

// Copies blocks between a [outer, n, inner] tensor and a [outer, m, inner] one at offset `at`.
void CopyBlock(const float* src, int64_t src_n, int64_t src_at, float* dst, int64_t dst_n, int64_t dst_at,
               int64_t outer, int64_t count, int64_t inner, bool acc) {
#pragma omp parallel for schedule(static) if (outer > 16)
  for (int64_t o = 0; o < outer; ++o) {
    const float* s = src + (o * src_n + src_at) * inner;
    float* d = dst + (o * dst_n + dst_at) * inner;
    if (acc) {
      for (int64_t i = 0; i < count * inner; ++i) d[i] += s[i];
    } else {
      std::memcpy(d, s, count * inner * sizeof(float));
    }
  }
}

struct SliceOp final : Op {
  int axis = 0;
  int64_t begin = 0, end = 0;
  const char* name() const override { return "slice"; }
  void Forward(const OpRun& r) override {
    const Tensor& x = r.in(0);
    const int a = NormAxis(axis, x.rank(), name());
    Require(0 <= begin && begin < end && end <= x.dim(a),
            "[" + std::to_string(begin) + ", " + std::to_string(end) + ") outside axis " + std::to_string(a) +
                " of " + S(x.shape()));
    Shape s = x.shape();
    s[a] = end - begin;
    const int64_t outer = Prod(x.shape(), 0, a), inner = Prod(x.shape(), a + 1, x.rank());
    CopyBlock(x.f32(), x.dim(a), begin, r.out(s).f32(), end - begin, 0, outer, end - begin, inner, false);
  }
  void Backward(const OpRun& r) override {
    const GradSlot g = r.din(0);
    if (!g.needed()) return;
    const Tensor& x = r.in(0);
    const int a = NormAxis(axis, x.rank(), name());
    if (!g.accumulate) g.t->SetZero();
    const int64_t outer = Prod(x.shape(), 0, a), inner = Prod(x.shape(), a + 1, x.rank());
    CopyBlock(r.dout().f32(), end - begin, 0, g.t->f32(), x.dim(a), begin, outer, end - begin, inner, true);
  }
  double Flops(const OpRun&) const override { return 0; }
};

struct ConcatOp final : Op {
  int axis = -1;
  const char* name() const override { return "concat"; }
  void Forward(const OpRun& r) override {
    const Tensor& x0 = r.in(0);
    const int a = NormAxis(axis, x0.rank(), name());
    Shape s = x0.shape();
    s[a] = 0;
    for (int i = 0; i < r.num_inputs(); ++i) {
      Shape si = r.in(i).shape();
      Require(static_cast<int>(si.size()) == x0.rank(), "inputs of different ranks");
      s[a] += si[a];
      si[a] = 0;
      Shape s0 = x0.shape();
      s0[a] = 0;
      Require(si == s0, "input " + S(r.in(i).shape()) + " does not match " + S(x0.shape()) + " off axis " +
                            std::to_string(a));
    }
    Tensor& y = r.out(s);
    const int64_t outer = Prod(s, 0, a), inner = Prod(s, a + 1, x0.rank());
    int64_t at = 0;
    for (int i = 0; i < r.num_inputs(); ++i) {
      const int64_t n = r.in(i).dim(a);
      CopyBlock(r.in(i).f32(), n, 0, y.f32(), s[a], at, outer, n, inner, false);
      at += n;
    }
  }
  void Backward(const OpRun& r) override {
    const Shape& s = r.out().shape();
    const int a = NormAxis(axis, static_cast<int>(s.size()), name());
    const int64_t outer = Prod(s, 0, a), inner = Prod(s, a + 1, static_cast<int>(s.size()));
    int64_t at = 0;
    for (int i = 0; i < r.num_inputs(); ++i) {
      const int64_t n = r.in(i).dim(a);
      if (const GradSlot g = r.din(i); g.needed())
        CopyBlock(r.dout().f32(), s[a], at, g.t->f32(), n, 0, outer, n, inner, g.accumulate);
      at += n;
    }
  }
  double Flops(const OpRun&) const override { return 0; }
};

struct GatherOp final : Op {
  const char* name() const override { return "gather"; }
  void Forward(const OpRun& r) override {
    const Tensor &table = r.in(0), &ids = r.in(1);
    Require(table.rank() == 2, "table " + S(table.shape()) + ": expected [rows, width]");
    Require(ids.dtype() == DType::kS32, "ids must be int32");
    const int64_t d = table.dim(1), rows = table.dim(0);
    Shape s = ids.shape();
    s.push_back(d);
    const int32_t* pi = ids.s32();
    for (int64_t i = 0; i < ids.numel(); ++i)
      Require(pi[i] >= 0 && pi[i] < rows, "id " + std::to_string(pi[i]) + " outside [0, " + std::to_string(rows) + ")");
    const float* pt = table.f32();
    float* py = r.out(s).f32();
#pragma omp parallel for schedule(static) if (ids.numel() > 256)
    for (int64_t i = 0; i < ids.numel(); ++i) std::memcpy(py + i * d, pt + pi[i] * d, d * sizeof(float));
  }
  void Backward(const OpRun& r) override {
    const GradSlot g = r.din(0);
    if (!g.needed()) return;
    if (!g.accumulate) g.t->SetZero();
    // Scatter-add in token order (deterministic), as the Embedding layer does.
    const Tensor& ids = r.in(1);
    const int64_t d = r.in(0).dim(1);
    const int32_t* pi = ids.s32();
    const float* pg = r.dout().f32();
    float* pt = g.t->f32();
    for (int64_t i = 0; i < ids.numel(); ++i) {
      float* row = pt + pi[i] * d;
#pragma omp simd
      for (int64_t j = 0; j < d; ++j) row[j] += pg[i * d + j];
    }
  }
  double Flops(const OpRun&) const override { return 0; }
};

struct DropoutOp final : Op {
  float p = 0;
  const std::string* label = nullptr;  // the caller's name (lives through the call)
  uint64_t stream = 0;
  bool active = false;
  const char* name() const override { return "dropout"; }
  void Forward(const OpRun& r) override {
    Require(p >= 0.0f && p < 1.0f, "p must be in [0, 1)");
    const Tensor& x = r.in(0);
    active = r.training() && p > 0.0f;
    if (!active) return r.set_out(x);
    // The Dropout layer's stream: its id mixed with the step.
    stream = r.stream_id(*label) ^ (r.ctx().step() * 0x9e3779b97f4a7c15ULL);
    const uint64_t seed = r.ctx().seed(), st = stream;
    const float keep_scale = 1.0f / (1.0f - p), pp = p;
    const int64_t n = x.numel();
    const uint64_t first = r.ctx().DropoutCounter(n);
    const float* px = x.f32();
    float* pm = r.scratch(0, x.shape()).f32();
    float* py = r.out(x.shape()).f32();
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) {
      pm[i] = CounterUniform(seed, st, first + i) >= pp ? keep_scale : 0.0f;
      py[i] = px[i] * pm[i];
    }
  }
  void Backward(const OpRun& r) override {
    const GradSlot g = r.din(0);
    if (!g.needed()) return;
    const float* pg = r.dout().f32();
    if (!active) return AddInto(g, r.dout());
    const float* pm = r.scratch(0).f32();
    WriteGrad(g, [=](int64_t i) { return pg[i] * pm[i]; });
  }
};

}  // namespace

Var Reshape(Var x, const Shape& shape) {
  ReshapeOp o;
  o.shape = shape;
  return x.graph().Record(std::move(o), {x});
}

Var Transpose(Var x, int axis0, int axis1) {
  TransposeOp o;
  o.a0 = axis0;
  o.a1 = axis1;
  return x.graph().Record(o, {x});
}

Var Slice(Var x, int axis, int64_t begin, int64_t end) {
  SliceOp o;
  o.axis = axis;
  o.begin = begin;
  o.end = end;
  return x.graph().Record(o, {x});
}

std::vector<Var> Split(Var x, const std::vector<int64_t>& sizes, int axis) {
  std::vector<Var> parts;
  int64_t at = 0;
  for (int64_t n : sizes) {
    parts.push_back(Slice(x, axis, at, at + n));
    at += n;
  }
  const int a = NormAxis(axis, static_cast<int>(x.shape().size()), "split");
  Require(at == x.dim(a), "split: sizes add up to " + std::to_string(at) + ", axis has " + std::to_string(x.dim(a)));
  return parts;
}

Var Concat(const std::vector<Var>& xs, int axis) {
  Require(!xs.empty(), "concat: no inputs");
  ConcatOp o;
  o.axis = axis;
  return xs[0].graph().Record(o, xs);
}

Var Gather(Var table, Var ids) { return table.graph().Record(GatherOp{}, {table, ids}); }

Var Dropout(Var x, float p, const std::string& name) {
  DropoutOp o;
  o.p = p;
  o.label = &name;
  return x.graph().Record(o, {x});
}

}  // namespace tinylm::fn
