// a (+ - * /) b with numpy broadcasting. The common cases run as flat loops: equal shapes, a
// scalar, or a trailing block repeated over rows ([B,T,D] with [D]); anything else goes through
// per-element index arithmetic. Gradients of a broadcast operand are reduced in a fixed order
// (chunked column sums), so they do not depend on the thread count.
#include <algorithm>
#include <vector>

#include "../tensors/chunked_reduce.h"
#include "op_util.h"
#include "tinylm/graph/ops.h"

namespace tinylm::fn {
namespace {

using graph_detail::Require;
using graph_detail::S;
using graph_detail::WriteGrad;

enum class BinKind { kAdd, kSub, kMul, kDiv };

// How an operand's elements map to the output's.
struct Mapping {
  enum Kind { kSame, kScalar, kRow, kGeneral } kind = kSame;
  int64_t row = 1;                 // kRow: the repeated block's size
  std::vector<int64_t> strides;    // kGeneral: operand stride per output dim (0 where broadcast)
  int64_t Index(int64_t i, const Shape& out) const {
    switch (kind) {
      case kSame: return i;
      case kScalar: return 0;
      case kRow: return i % row;
      default: {
        int64_t idx = 0;
        for (int d = static_cast<int>(out.size()) - 1; d >= 0; --d) {
          idx += (i % out[d]) * strides[d];
          i /= out[d];
        }
        return idx;
      }
    }
  }
};

Shape BroadcastShape(const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    Require(da == db || da == 1 || db == 1,
            "shapes " + S(a) + " and " + S(b) + " do not broadcast");
    out[i] = std::max(da, db);
  }
  return out;
}

Mapping MapOperand(const Shape& x, const Shape& out) {
  Mapping m;
  const int64_t n = NumElements(x);
  if (n == NumElements(out)) return m;  // broadcasting only grows, so equal counts: same shape
  if (n == 1) {
    m.kind = Mapping::kScalar;
    return m;
  }
  size_t lead = 0;  // strip leading 1s
  while (lead < x.size() && x[lead] == 1) ++lead;
  const size_t k = x.size() - lead;
  bool suffix = k <= out.size();
  for (size_t i = 0; suffix && i < k; ++i) suffix = x[lead + i] == out[out.size() - k + i];
  if (suffix) {
    m.kind = Mapping::kRow;
    m.row = n;
    return m;
  }
  m.kind = Mapping::kGeneral;
  m.strides.assign(out.size(), 0);
  int64_t stride = 1;
  for (int i = static_cast<int>(x.size()) - 1; i >= 0; --i) {
    const int od = i + static_cast<int>(out.size() - x.size());
    m.strides[od] = x[i] == 1 ? 0 : stride;
    stride *= x[i];
  }
  return m;
}

// The output as rows of `row` elements; operand element (q, c) at q * xq + c * xc. Covers
// every combination of equal shapes, scalars and one repeated trailing block.
struct Blocks {
  int64_t row = 1, aq = 0, ac = 0, bq = 0, bc = 0;
};
bool FastBlocks(const Mapping& a, const Mapping& b, int64_t n, Blocks* l) {
  if (a.kind == Mapping::kGeneral || b.kind == Mapping::kGeneral) return false;
  if (a.kind == Mapping::kRow && b.kind == Mapping::kRow && a.row != b.row) return false;
  l->row = a.kind == Mapping::kRow ? a.row : b.kind == Mapping::kRow ? b.row : n;
  auto strides = [&](const Mapping& m, int64_t* q, int64_t* c) {
    *q = m.kind == Mapping::kSame ? l->row : 0;
    *c = m.kind == Mapping::kScalar ? 0 : 1;
  };
  strides(a, &l->aq, &l->ac);
  strides(b, &l->bq, &l->bc);
  return true;
}

inline float Apply(BinKind k, float a, float b) {
  switch (k) {
    case BinKind::kAdd: return a + b;
    case BinKind::kSub: return a - b;
    case BinKind::kMul: return a * b;
    default: return a / b;
  }
}

// dL/da and dL/db of one element given g = dL/dy.
inline float GradA(BinKind k, float g, float, float b) {
  switch (k) {
    case BinKind::kAdd:
    case BinKind::kSub: return g;
    case BinKind::kMul: return g * b;
    default: return g / b;
  }
}
inline float GradB(BinKind k, float g, float a, float b) {
  switch (k) {
    case BinKind::kAdd: return g;
    case BinKind::kSub: return -g;
    case BinKind::kMul: return g * a;
    default: return -g * a / (b * b);
  }
}

struct BinaryOp final : Op {
  BinKind kind = BinKind::kAdd;
  const char* name() const override {
    static const char* names[] = {"add", "sub", "mul", "div"};
    return names[static_cast<int>(kind)];
  }

  void Forward(const OpRun& r) override {
    const Tensor &a = r.in(0), &b = r.in(1);
    const Shape out_shape = BroadcastShape(a.shape(), b.shape());
    ma_ = MapOperand(a.shape(), out_shape);
    mb_ = MapOperand(b.shape(), out_shape);
    Tensor& y = r.out(out_shape);
    const float *pa = a.f32(), *pb = b.f32();
    float* py = y.f32();
    const int64_t n = y.numel();
    const BinKind k = kind;
    Blocks l;
    if (FastBlocks(ma_, mb_, n, &l)) {
      const Blocks bl = l;
      const int64_t rows = n / bl.row;
      if (rows == 1) {  // equal shapes or a scalar: one flat loop
#pragma omp parallel for simd schedule(static) if (n > 32768)
        for (int64_t c = 0; c < n; ++c) py[c] = Apply(k, pa[c * bl.ac], pb[c * bl.bc]);
      } else {
#pragma omp parallel for schedule(static) if (n > 32768)
        for (int64_t q = 0; q < rows; ++q) {
          const float *ra = pa + q * bl.aq, *rb = pb + q * bl.bq;
          float* ry = py + q * bl.row;
#pragma omp simd
          for (int64_t c = 0; c < bl.row; ++c) ry[c] = Apply(k, ra[c * bl.ac], rb[c * bl.bc]);
        }
      }
    } else {
      const Mapping ma = ma_, mb = mb_;
      for (int64_t i = 0; i < n; ++i) py[i] = Apply(k, pa[ma.Index(i, out_shape)], pb[mb.Index(i, out_shape)]);
    }
  }

  void Backward(const OpRun& r) override {
    const Tensor &a = r.in(0), &b = r.in(1);
    const Shape& out_shape = r.out().shape();
    const float *pa = a.f32(), *pb = b.f32(), *g = r.dout().f32();
    const BinKind k = kind;
    const int64_t n = r.out().numel();
    for (int which = 0; which < 2; ++which) {
      const GradSlot slot = r.din(which);
      if (!slot.needed()) continue;
      const Mapping &self = which ? mb_ : ma_, &other = which ? ma_ : mb_;
      const bool fast_other = other.kind != Mapping::kGeneral;
      // Contribution at output element i.
      auto contrib = [&](int64_t i, int64_t ia, int64_t ib) {
        return which ? GradB(k, g[i], pa[ia], pb[ib]) : GradA(k, g[i], pa[ia], pb[ib]);
      };
      Blocks l;
      if (self.kind == Mapping::kSame && FastBlocks(ma_, mb_, n, &l)) {
        const Blocks bl = l;
        const int64_t rows = n / bl.row;
        float* pd = slot.t->f32();
        auto at = [=](int64_t q, int64_t c) {
          const float *ra = pa + q * bl.aq, *rb = pb + q * bl.bq, gg = g[q * bl.row + c];
          return which ? GradB(k, gg, ra[c * bl.ac], rb[c * bl.bc]) : GradA(k, gg, ra[c * bl.ac], rb[c * bl.bc]);
        };
        if (rows == 1) {
          WriteGrad(slot, [=](int64_t i) { return at(0, i); });
        } else if (slot.accumulate) {
#pragma omp parallel for schedule(static) if (n > 32768)
          for (int64_t q = 0; q < rows; ++q)
#pragma omp simd
            for (int64_t c = 0; c < bl.row; ++c) pd[q * bl.row + c] += at(q, c);
        } else {
#pragma omp parallel for schedule(static) if (n > 32768)
          for (int64_t q = 0; q < rows; ++q)
#pragma omp simd
            for (int64_t c = 0; c < bl.row; ++c) pd[q * bl.row + c] = at(q, c);
        }
        continue;
      }
      if (fast_other && (self.kind == Mapping::kScalar || self.kind == Mapping::kRow)) {
        // Reduce the contributions over the repeated rows in fixed chunks (deterministic).
        if (!slot.accumulate) slot.t->SetZero();
        const int64_t row = self.kind == Mapping::kScalar ? 1 : self.row;
        const int64_t orow = other.kind == Mapping::kScalar ? 1 : other.kind == Mapping::kRow ? other.row : n;
        const bool other_same = other.kind == Mapping::kSame;
        auto at = [=](int64_t i, int64_t is) {
          const int64_t io = other_same ? i : i % orow;
          return which ? GradB(k, g[i], pa[io], pb[is]) : GradA(k, g[i], pa[is], pb[io]);
        };
        float* dst = slot.t->f32();
        if (row == 1) {
          constexpr int64_t kChunk = 4096;
          const int64_t chunks = (n + kChunk - 1) / kChunk;
          std::vector<double> part(chunks, 0.0);
#pragma omp parallel for schedule(static) if (chunks > 8)
          for (int64_t c = 0; c < chunks; ++c) {
            double s = 0;
            for (int64_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); ++i) s += at(i, 0);
            part[c] = s;
          }
          double total = 0;
          for (double v : part) total += v;
          dst[0] += static_cast<float>(total);
        } else {
          ChunkedColumnReduce(n / row, row, dst, [&](int64_t r0, int64_t r1, float* acc) {
            for (int64_t q = r0; q < r1; ++q)
              for (int64_t c = 0; c < row; ++c) acc[c] += at(q * row + c, c);
          });
        }
        continue;
      }
      // General broadcasting: per-element index arithmetic, serial (rare, small tensors).
      if (!slot.accumulate) slot.t->SetZero();
      float* dst = slot.t->f32();
      for (int64_t i = 0; i < n; ++i) {
        const int64_t ia = ma_.Index(i, out_shape), ib = mb_.Index(i, out_shape);
        dst[which ? ib : ia] += contrib(i, ia, ib);
      }
    }
  }

  Mapping ma_, mb_;  // set by Forward (the op object is reused, so this allocates once)
};

Var Binary(BinKind k, Var a, Var b) {
  BinaryOp o;
  o.kind = k;
  return a.graph().Record(std::move(o), {a, b});
}

}  // namespace

Var Add(Var a, Var b) { return Binary(BinKind::kAdd, a, b); }
Var Sub(Var a, Var b) { return Binary(BinKind::kSub, a, b); }
Var Mul(Var a, Var b) { return Binary(BinKind::kMul, a, b); }
Var Div(Var a, Var b) { return Binary(BinKind::kDiv, a, b); }

}  // namespace tinylm::fn

namespace tinylm::fn {
namespace {

// y = x + a * z (torch.addcmul) with x, z of one shape and a broadcast to it (a scalar, a
// repeated trailing block, or the same shape): a gated residual in one pass instead of two.
struct AddCMulOp final : Op {
  const char* name() const override { return "addcmul"; }
  void Forward(const OpRun& r) override {
    const Tensor &x = r.in(0), &a = r.in(1), &z = r.in(2);
    Require(x.shape() == z.shape(), "x " + S(x.shape()) + " and z " + S(z.shape()) + " must have one shape");
    ma_ = MapOperand(a.shape(), BroadcastShape(a.shape(), x.shape()));
    Require(BroadcastShape(a.shape(), x.shape()) == x.shape() && ma_.kind != Mapping::kGeneral,
            "a " + S(a.shape()) + " must be a scalar, a trailing block or the shape of x " + S(x.shape()));
    const int64_t n = x.numel(), row = ma_.kind == Mapping::kRow ? ma_.row : n, rows = n / row;
    const int64_t aq = ma_.kind == Mapping::kSame ? row : 0, ac = ma_.kind == Mapping::kScalar ? 0 : 1;
    const float *px = x.f32(), *pa = a.f32(), *pz = z.f32();
    float* py = r.out(x.shape()).f32();
    if (rows == 1) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
      for (int64_t i = 0; i < n; ++i) py[i] = px[i] + pa[i * ac] * pz[i];
    } else {
#pragma omp parallel for schedule(static) if (n > 32768)
      for (int64_t q = 0; q < rows; ++q)
#pragma omp simd
        for (int64_t c = 0; c < row; ++c) py[q * row + c] = px[q * row + c] + pa[q * aq + c * ac] * pz[q * row + c];
    }
  }
  void Backward(const OpRun& r) override {
    const Tensor &a = r.in(1), &z = r.in(2);
    const int64_t n = z.numel(), row = ma_.kind == Mapping::kRow ? ma_.row : ma_.kind == Mapping::kScalar ? 1 : n;
    const float *pa = a.f32(), *pz = z.f32(), *g = r.dout().f32();
    const bool scalar = ma_.kind == Mapping::kScalar, same = ma_.kind == Mapping::kSame;
    if (const GradSlot dx = r.din(0); dx.needed()) graph_detail::AddInto(dx, r.dout());
    if (const GradSlot dz = r.din(2); dz.needed())
      WriteGrad(dz, [=](int64_t i) { return g[i] * pa[scalar ? 0 : same ? i : i % row]; });
    const GradSlot da = r.din(1);
    if (!da.needed()) return;
    if (same) return WriteGrad(da, [=](int64_t i) { return g[i] * pz[i]; });
    if (!da.accumulate) da.t->SetZero();
    if (scalar) {
      constexpr int64_t kChunk = 4096;
      const int64_t chunks = (n + kChunk - 1) / kChunk;
      std::vector<double> part(chunks, 0.0);
#pragma omp parallel for schedule(static) if (chunks > 8)
      for (int64_t c = 0; c < chunks; ++c) {
        double s = 0;
        for (int64_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); ++i) s += static_cast<double>(g[i]) * pz[i];
        part[c] = s;
      }
      double total = 0;
      for (double v : part) total += v;
      da.t->f32()[0] += static_cast<float>(total);
    } else {
      ChunkedColumnReduce(n / row, row, da.t->f32(), [&](int64_t r0, int64_t r1, float* acc) {
        for (int64_t q = r0; q < r1; ++q)
#pragma omp simd
          for (int64_t c = 0; c < row; ++c) acc[c] += g[q * row + c] * pz[q * row + c];
      });
    }
  }
  Mapping ma_;
};

}  // namespace

Var AddCMul(Var x, Var a, Var z) { return x.graph().Record(AddCMulOp{}, {x, a, z}); }

}  // namespace tinylm::fn
