// Causal ops along time (axis 1 of [B, T, ...]). Each knows its incremental step: decode keeps
// what the next positions need (running sums, the last inputs) in the node's state, so a layer
// built from them decodes in O(1) per token without being told how.
#include <cstring>

#include "../tensors/chunked_reduce.h"
#include "op_util.h"
#include "tinylm/graph/ops.h"

namespace tinylm::fn {
namespace {

using graph_detail::Require;
using graph_detail::S;

// [B, T, inner] view sizes of a time-major tensor.
struct TimeShape {
  int64_t b, t, inner;
  explicit TimeShape(const Tensor& x) : b(x.dim(0)), t(x.dim(1)), inner(x.numel() / (x.dim(0) * x.dim(1))) {}
};

void RequireTime(const Tensor& x) {
  Require(x.rank() >= 2, "input " + S(x.shape()) + " has no time axis: expected [B, T, ...]");
}

// ---- cumulative sum / mean ----------------------------------------------------------------------
struct RunningSum : OpState {
  std::vector<double> sum;  // [B * inner]
  int64_t count = 0;
};

struct CumulativeOp final : Op {
  bool mean = false;
  const char* name() const override { return mean ? "cummean" : "cumsum"; }
  bool carries_time() const override { return true; }

  // Running sums from `start` (per column; null = zeros) over positions pos0.. of x.
  void Run(const OpRun& r, double* start, int64_t pos0) const {
    const Tensor& x = r.in(0);
    RequireTime(x);
    const TimeShape s(x);
    const float* px = x.f32();
    float* py = r.out(x.shape()).f32();
    const bool avg = mean;
#pragma omp parallel for schedule(static) if (s.b * s.inner > 64)
    for (int64_t bc = 0; bc < s.b * s.inner; ++bc) {  // one (sequence, channel) column
      const int64_t bi = bc / s.inner, c = bc % s.inner;
      double acc = start ? start[bc] : 0.0;
      for (int64_t ti = 0; ti < s.t; ++ti) {
        const int64_t i = (bi * s.t + ti) * s.inner + c;
        acc += px[i];
        py[i] = static_cast<float>(avg ? acc / static_cast<double>(pos0 + ti + 1) : acc);
      }
      if (start) start[bc] = acc;
    }
  }
  void Forward(const OpRun& r) override { Run(r, nullptr, 0); }
  void Step(const OpRun& r) override {
    const TimeShape s(r.in(0));
    auto& st = r.state<RunningSum>();
    if (st.sum.empty()) st.sum.assign(s.b * s.inner, 0.0);
    Require(static_cast<int64_t>(st.sum.size()) == s.b * s.inner, "decode input changed shape");
    Require(r.position() == st.count, "decode positions must be contiguous");
    Run(r, st.sum.data(), r.position());
    st.count += s.t;
  }
  void Backward(const OpRun& r) override {
    const GradSlot dx = r.din(0);
    if (!dx.needed()) return;
    const TimeShape s(r.in(0));
    const float* pg = r.dout().f32();
    float* pd = dx.t->f32();
    const bool avg = mean, acc_out = dx.accumulate;
    // dx_s = sum_{t >= s} g_t (/ (t+1)): a reverse cumulative sum.
#pragma omp parallel for schedule(static) if (s.b * s.inner > 64)
    for (int64_t bc = 0; bc < s.b * s.inner; ++bc) {
      const int64_t bi = bc / s.inner, c = bc % s.inner;
      double acc = 0;
      for (int64_t ti = s.t - 1; ti >= 0; --ti) {
        const int64_t i = (bi * s.t + ti) * s.inner + c;
        acc += avg ? pg[i] / static_cast<double>(ti + 1) : pg[i];
        pd[i] = acc_out ? pd[i] + static_cast<float>(acc) : static_cast<float>(acc);
      }
    }
  }
};

// ---- shift and depthwise causal convolution -------------------------------------------------------
// The last `keep` positions of the input, [B, keep, inner], oldest first (zeros before t = 0).
struct History : OpState {
  Tensor past;
  int64_t count = 0;
};

// Joins the history and the new rows into [B, keep + T, inner] (scratch 0) and keeps the last
// `keep` rows as the new history. Returns the joined buffer.
const Tensor& JoinHistory(const OpRun& r, int64_t keep) {
  const Tensor& x = r.in(0);
  const TimeShape s(x);
  auto& st = r.state<History>();
  if (!st.past.defined()) st.past = Tensor::Zeros({s.b, keep, s.inner});
  Require(st.past.dim(0) == s.b && st.past.dim(2) == s.inner, "decode input changed shape");
  Require(r.position() == st.count, "decode positions must be contiguous");
  Tensor& joined = r.scratch(0, {s.b, keep + s.t, s.inner});
  const size_t row = s.inner * sizeof(float);
  for (int64_t bi = 0; bi < s.b; ++bi) {
    char* dst = static_cast<char*>(joined.raw()) + bi * (keep + s.t) * row;
    std::memcpy(dst, static_cast<char*>(st.past.raw()) + bi * keep * row, keep * row);
    std::memcpy(dst + keep * row, static_cast<char*>(x.raw()) + bi * s.t * row, s.t * row);
    std::memcpy(static_cast<char*>(st.past.raw()) + bi * keep * row, dst + s.t * row, keep * row);
  }
  st.count += s.t;
  return joined;
}

struct ShiftOp final : Op {
  int64_t k = 1;
  const char* name() const override { return "shift"; }
  bool carries_time() const override { return true; }
  // y[b, t] = src[b, t + offset - k] over a source with `offset` rows of history in front.
  static void Copy(const Tensor& src, int64_t offset, int64_t k, const Tensor& y) {
    const int64_t b = y.dim(0), t = y.dim(1), inner = y.numel() / (b * t), ts = src.dim(1);
    const float* ps = src.f32();
    float* py = y.f32();
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t ti = 0; ti < t; ++ti) {
        const int64_t from = ti + offset - k;
        float* dst = py + (bi * t + ti) * inner;
        if (from < 0) std::memset(dst, 0, inner * sizeof(float));
        else std::memcpy(dst, ps + (bi * ts + from) * inner, inner * sizeof(float));
      }
  }
  void Forward(const OpRun& r) override {
    RequireTime(r.in(0));
    Require(k >= 1, "k must be at least 1");
    Copy(r.in(0), 0, k, r.out(r.in(0).shape()));
  }
  void Step(const OpRun& r) override {
    RequireTime(r.in(0));
    const Tensor& joined = JoinHistory(r, k);
    Copy(joined, k, k, r.out(r.in(0).shape()));
  }
  void Backward(const OpRun& r) override {
    const GradSlot dx = r.din(0);
    if (!dx.needed()) return;
    const TimeShape s(r.in(0));
    const float* pg = r.dout().f32();
    const int64_t kk = k;
    graph_detail::WriteGrad(dx, [=](int64_t i) {  // dx_t = g_{t+k}
      const int64_t ti = (i / s.inner) % s.t;
      return ti + kk < s.t ? pg[i + kk * s.inner] : 0.0f;
    });
  }
  double Flops(const OpRun&) const override { return 0; }
};

struct CausalConvOp final : Op {
  const char* name() const override { return "causal_conv1d"; }
  bool carries_time() const override { return true; }
  void Check(const OpRun& r) const {
    const Tensor &x = r.in(0), &w = r.in(1);
    Require(x.rank() == 3, "input " + S(x.shape()) + ": expected [B, T, C]");
    Require(w.rank() == 2 && w.dim(1) == x.dim(2),
            "weight " + S(w.shape()) + ": expected [kernel, " + std::to_string(x.dim(2)) + "]");
    if (r.has_input(2)) Require(r.in(2).numel() == x.dim(2), "bias " + S(r.in(2).shape()));
  }
  // y[b, t] = sum_j w[j] * src[b, t + offset - j] (+ bias); rows before the source are zero.
  static void Convolve(const OpRun& r, const Tensor& src, int64_t offset, Tensor& y) {
    const Tensor& w = r.in(1);
    const int64_t kernel = w.dim(0), c = w.dim(1), b = y.dim(0), t = y.dim(1), ts = src.dim(1);
    const float *ps = src.f32(), *pw = w.f32(), *pb = r.has_input(2) ? r.in(2).f32() : nullptr;
    float* py = y.f32();
#pragma omp parallel for collapse(2) schedule(static) if (b * t > 64)
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t ti = 0; ti < t; ++ti) {
        float* yr = py + (bi * t + ti) * c;
        for (int64_t ch = 0; ch < c; ++ch) yr[ch] = pb ? pb[ch] : 0.0f;
        for (int64_t j = 0; j < kernel; ++j) {
          const int64_t from = ti + offset - j;
          if (from < 0) break;
          const float *xr = ps + (bi * ts + from) * c, *wr = pw + j * c;
#pragma omp simd
          for (int64_t ch = 0; ch < c; ++ch) yr[ch] += wr[ch] * xr[ch];
        }
      }
  }
  void Forward(const OpRun& r) override {
    Check(r);
    Convolve(r, r.in(0), 0, r.out(r.in(0).shape()));
  }
  void Step(const OpRun& r) override {
    Check(r);
    const int64_t keep = r.in(1).dim(0) - 1;
    if (keep == 0) return Forward(r);
    const Tensor& joined = JoinHistory(r, keep);
    Convolve(r, joined, keep, r.out(r.in(0).shape()));
  }
  void Backward(const OpRun& r) override {
    const Tensor &x = r.in(0), &w = r.in(1);
    const int64_t kernel = w.dim(0), c = w.dim(1), b = x.dim(0), t = x.dim(1);
    const float *px = x.f32(), *pw = w.f32(), *pg = r.dout().f32();
    if (const GradSlot dx = r.din(0); dx.needed()) {  // dx_s = sum_j w[j] g_{s+j}
      float* pd = dx.t->f32();
      const bool acc = dx.accumulate;
#pragma omp parallel for collapse(2) schedule(static) if (b * t > 64)
      for (int64_t bi = 0; bi < b; ++bi)
        for (int64_t ti = 0; ti < t; ++ti) {
          float* dr = pd + (bi * t + ti) * c;
          if (!acc)
            for (int64_t ch = 0; ch < c; ++ch) dr[ch] = 0.0f;
          for (int64_t j = 0; j < kernel && ti + j < t; ++j) {
            const float *gr = pg + (bi * t + ti + j) * c, *wr = pw + j * c;
#pragma omp simd
            for (int64_t ch = 0; ch < c; ++ch) dr[ch] += wr[ch] * gr[ch];
          }
        }
    }
    if (const GradSlot dw = r.din(1); dw.needed()) {  // dw[j] = sum_{b,t} g_t * x_{t-j}
      if (!dw.accumulate) dw.t->SetZero();
      ChunkedColumnReduce(b * t, kernel * c, dw.t->f32(), [&](int64_t r0, int64_t r1, float* part) {
        for (int64_t row = r0; row < r1; ++row) {
          const int64_t ti = row % t;
          const float* gr = pg + row * c;
          for (int64_t j = 0; j < kernel && j <= ti; ++j) {
            const float* xr = px + (row - j) * c;
#pragma omp simd
            for (int64_t ch = 0; ch < c; ++ch) part[j * c + ch] += gr[ch] * xr[ch];
          }
        }
      });
    }
    if (const GradSlot db = r.din(2); db.needed()) {
      if (!db.accumulate) db.t->SetZero();
      ChunkedColumnReduce(b * t, c, db.t->f32(), [&](int64_t r0, int64_t r1, float* part) {
        for (int64_t row = r0; row < r1; ++row)
#pragma omp simd
          for (int64_t ch = 0; ch < c; ++ch) part[ch] += pg[row * c + ch];
      });
    }
  }
  double Flops(const OpRun& r) const override { return 2.0 * r.out().numel() * r.in(1).dim(0); }
};

}  // namespace

Var CumSum(Var x) { return x.graph().Record(CumulativeOp{}, {x}); }
Var CumMean(Var x) {
  CumulativeOp o;
  o.mean = true;
  return x.graph().Record(o, {x});
}
Var Shift(Var x, int64_t k) {
  ShiftOp o;
  o.k = k;
  return x.graph().Record(o, {x});
}
Var CausalConv1d(Var x, Var weight, Var bias) { return x.graph().Record(CausalConvOp{}, {x, weight, bias}); }

}  // namespace tinylm::fn
