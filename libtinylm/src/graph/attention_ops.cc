// Causal multi-head attention and rotary embeddings as ops, on the kernels the Attention layer
// uses (layers/attention_kernels.h). Attention keeps a KV cache per node in decode.
#include <cmath>

#include "../layers/attention_kernels.h"
#include "op_util.h"
#include "tinylm/graph/ops.h"

namespace tinylm::fn {
namespace {

namespace ak = attention_kernels;
using graph_detail::AddInto;
using graph_detail::Require;
using graph_detail::S;

struct KvCache : OpState {
  Tensor k, v;  // [B, H, max_len, hd]
  int64_t len = 0;
};

struct CausalAttentionOp final : Op {
  int64_t heads = 1;
  const char* name() const override { return "causal_attention"; }
  bool carries_time() const override { return true; }

  int64_t Check(const OpRun& r) const {
    const Tensor &q = r.in(0), &k = r.in(1), &v = r.in(2);
    Require(q.rank() == 3 && q.shape() == k.shape() && q.shape() == v.shape(),
            "q " + S(q.shape()) + ", k " + S(k.shape()) + ", v " + S(v.shape()) + ": expected equal [B, T, heads*hd]");
    Require(heads > 0 && q.dim(2) % heads == 0, "width " + std::to_string(q.dim(2)) + " not divisible by heads " +
                                                    std::to_string(heads));
    return q.dim(2) / heads;
  }
  float ScaleOf(int64_t hd) const { return 1.0f / std::sqrt(static_cast<float>(hd)); }

  void Forward(const OpRun& r) override {
    const int64_t hd = Check(r), b = r.in(0).dim(0), t = r.in(0).dim(1), h = heads;
    Tensor* qkv[3];
    for (int i = 0; i < 3; ++i) {
      qkv[i] = &r.scratch(i, {b * h, t, hd});
      ak::PermuteHeads(r.in(i).f32(), qkv[i]->f32(), b, h, t, hd, true);
    }
    Tensor& lse = r.scratch(3, {b * h, t});  // per row; probabilities are recomputed in backward
    Tensor& o = r.scratch(4, {b * h, t, hd});
    ak::Forward(r.ctx(), *qkv[0], *qkv[1], *qkv[2], ScaleOf(hd), o, lse);
    ak::PermuteHeads(o.f32(), r.out(r.in(0).shape()).f32(), b, h, t, hd, false);
  }

  void Backward(const OpRun& r) override {
    const int64_t hd = r.in(0).dim(2) / heads, b = r.in(0).dim(0), t = r.in(0).dim(1), h = heads;
    Tensor& d_o = r.scratch(5, {b * h, t, hd});
    ak::PermuteHeads(r.dout().f32(), d_o.f32(), b, h, t, hd, true);
    Tensor* d[3];
    for (int i = 0; i < 3; ++i) d[i] = &r.scratch(7 + i, {b * h, t, hd});
    ak::Backward(r.ctx(), r.scratch(0), r.scratch(1), r.scratch(2), r.scratch(4), r.scratch(3), d_o, ScaleOf(hd),
                 *d[0], *d[1], *d[2]);
    for (int i = 0; i < 3; ++i) {
      const GradSlot s = r.din(i);
      if (!s.needed()) continue;
      if (!s.accumulate) {
        ak::PermuteHeads(d[i]->f32(), s.t->f32(), b, h, t, hd, false);
      } else {
        Tensor& tmp = r.scratch(10, r.in(i).shape());
        ak::PermuteHeads(d[i]->f32(), tmp.f32(), b, h, t, hd, false);
        AddInto(s, tmp);
      }
    }
  }

  void Step(const OpRun& r) override {
    const int64_t hd = Check(r), b = r.in(0).dim(0), t = r.in(0).dim(1), h = heads;
    auto& cache = r.state<KvCache>();
    if (!cache.k.defined()) {
      Require(r.max_len() > 0, "decode state without a maximum length");
      cache.k = Tensor::Zeros({b, h, r.max_len(), hd});
      cache.v = Tensor::Zeros({b, h, r.max_len(), hd});
    }
    const int64_t max_len = cache.k.dim(2), pos = r.position();
    Require(pos == cache.len, "decode positions must be contiguous");
    Require(pos + t <= max_len, "decode beyond the KV cache length " + std::to_string(max_len));
    Tensor* qkv[3];
    for (int i = 0; i < 3; ++i) {
      qkv[i] = &r.scratch(i, {b, h, t, hd});
      ak::PermuteHeads(r.in(i).f32(), qkv[i]->f32(), b, h, t, hd, true);
    }
    ak::AppendToCache(qkv[1]->f32(), cache.k.f32(), b, h, t, hd, max_len, pos);
    ak::AppendToCache(qkv[2]->f32(), cache.v.f32(), b, h, t, hd, max_len, pos);
    cache.len = pos + t;
    ak::AttendCached(qkv[0]->f32(), cache.k.f32(), cache.v.f32(), r.out(r.in(0).shape()).f32(), b, h, h, t, hd,
                     max_len, pos, ScaleOf(hd));
  }

  // Causal pairs only (query at position p sees p + 1 keys): q.k and p.v, 2 hd each, and the
  // softmax, about 5 per score; as the Attention layer counts.
  double Flops(const OpRun& r) const override {
    const Tensor& q = r.in(0);
    const double t = static_cast<double>(q.dim(1)), pos = static_cast<double>(r.position());
    const double pairs = t * pos + 0.5 * t * (t + 1), hd = static_cast<double>(q.dim(2) / heads);
    return static_cast<double>(q.dim(0)) * heads * pairs * (4.0 * hd + 5.0);
  }
};

struct RopeOp final : Op {
  const tinylm::Rope* rope = nullptr;
  int64_t heads = 1;
  const char* name() const override { return "rope"; }
  void Rotate(const Tensor& src, const Tensor& dst, int64_t pos0, bool inverse) const {
    const int64_t d = src.dim(2);
    if (dst.raw() != src.raw()) dst.CopyFrom(src);
    rope->Apply(dst.f32(), src.dim(0), src.dim(1), heads, src.dim(1) * d, d, d / heads, pos0, inverse);
  }
  void Check(const Tensor& x) const {
    Require(x.rank() == 3 && heads > 0 && x.dim(2) % heads == 0,
            "input " + S(x.shape()) + ": expected [B, T, heads*hd] with heads " + std::to_string(heads));
    Require(rope->rotary_dims() <= x.dim(2) / heads, "the rope tables are for a wider head");
  }
  void Forward(const OpRun& r) override {
    Check(r.in(0));
    Rotate(r.in(0), r.out(r.in(0).shape()), 0, false);
  }
  void Step(const OpRun& r) override {
    Check(r.in(0));
    Rotate(r.in(0), r.out(r.in(0).shape()), r.position(), false);
  }
  void Backward(const OpRun& r) override {
    const GradSlot s = r.din(0);
    if (!s.needed()) return;
    if (!s.accumulate) return Rotate(r.dout(), *s.t, 0, true);
    Tensor& tmp = r.scratch(0, r.dout().shape());
    Rotate(r.dout(), tmp, 0, true);
    AddInto(s, tmp);
  }
  double Flops(const OpRun& r) const override { return 3.0 * r.out().numel(); }
};

}  // namespace

Var CausalAttention(Var q, Var k, Var v, int64_t heads) {
  CausalAttentionOp o;
  o.heads = heads;
  return q.graph().Record(o, {q, k, v});
}

Var Rope(Var x, const tinylm::Rope& rope, int64_t heads) {
  RopeOp o;
  o.rope = &rope;
  o.heads = heads;
  return x.graph().Record(o, {x});
}

}  // namespace tinylm::fn
