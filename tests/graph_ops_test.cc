// Every differentiable op through the one shared harness (layer_harness.h, after ggml's
// test-backend-ops): each case wraps an op (or a short composition) in a graph layer, and the
// harness checks it against a naive double reference written from the math, with finite
// differences, decode == forward, gradient accumulation and determinism across thread counts.
#include <gtest/gtest.h>

#include <cmath>

#include "layer_harness.h"
#include "tinylm/graph/graph_layer.h"
#include "tinylm/tensors/rng.h"

namespace tinylm::testing {
namespace {

using ref::Vec;
using BuildFn = std::function<Var(Graph&, Var, const std::vector<Param*>&)>;

// A graph layer around one op: parameters p0, p1, ... of the given shapes, then `build`.
class OpProbe : public GraphLayer {
 public:
  OpProbe(ParamStore& s, const std::vector<Shape>& params, BuildFn build, std::function<Shape(const Shape&)> out)
      : GraphLayer("op_probe", s, "p", "probe"), build_(std::move(build)), out_(std::move(out)) {
    for (size_t i = 0; i < params.size(); ++i)
      p_.push_back(Declare(std::to_string(i), params[i], Init::Uniform(0.5f), true));
  }
  Shape OutputShape(const Shape& in) const override { return out_ ? out_(in) : in; }

 protected:
  Var Build(Graph& g, Var x) override { return build_(g, x, p_); }

 private:
  BuildFn build_;
  std::function<Shape(const Shape&)> out_;
  std::vector<Param*> p_;
};

struct OpCase {
  std::string name;
  Shape in;
  std::vector<Shape> params;
  BuildFn build;
  std::function<Vec(const Vec& x, const ref::Params& p)> ref;
  std::function<Shape(const Shape&)> out = nullptr;
  bool decode = true;
  int vocab = 0;
  double forward_tol = 3e-5, grad_tol = 2e-3;
};

void Check(const OpCase& c) {
  LayerCase lc{c.name,
               [c](ParamStore& s) -> LayerPtr { return std::make_unique<OpProbe>(s, c.params, c.build, c.out); },
               c.in, c.ref};
  lc.vocab = c.vocab;
  lc.check_decode = c.decode;
  lc.check_flop_scaling = false;  // probes' parameters may have the batch's shape
  lc.forward_tol = c.forward_tol;
  lc.grad_tol = c.grad_tol;
  CheckLayer(lc);
}

const Vec& P(const ref::Params& p, int i) { return p.at("p." + std::to_string(i)); }
Var Par(Graph& g, const std::vector<Param*>& p, int i) { return g.Parameter(p[i]); }

Vec Map(const Vec& x, const std::function<double(double)>& f) {
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = f(x[i]);
  return y;
}
// Element i of x paired with element i % row of a repeated block p.
Vec Zip(const Vec& x, const Vec& p, const std::function<double(double, double)>& f) {
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = f(x[i], p[i % p.size()]);
  return y;
}
// The halves of each row of width 2h: a = [.., :h], b = [.., h:].
std::pair<Vec, Vec> Halves(const Vec& x, int64_t h) {
  Vec a, b;
  for (size_t r = 0; r < x.size() / (2 * h); ++r)
    for (int64_t j = 0; j < 2 * h; ++j) (j < h ? a : b).push_back(x[r * 2 * h + j]);
  return {a, b};
}
std::function<Shape(const Shape&)> LastDim(int64_t n) {
  return [n](const Shape& s) {
    Shape o = s;
    o.back() = n;
    return o;
  };
}

// ---- elementwise -------------------------------------------------------------------------------
TEST(GraphOps, Binary) {
  auto both = [](const char* name, std::function<Var(Var, Var)> op, std::function<double(double, double)> f) {
    Check({name, {2, 5, 8}, {},
           [op](Graph&, Var x, const std::vector<Param*>&) {
             auto h = fn::Split(x, {4, 4});
             return op(h[0], h[1]);
           },
           [f](const Vec& x, const ref::Params&) {
             auto [a, b] = Halves(x, 4);
             Vec y(a.size());
             for (size_t i = 0; i < a.size(); ++i) y[i] = f(a[i], b[i]);
             return y;
           },
           LastDim(4)});
  };
  both("add", fn::Add, [](double a, double b) { return a + b; });
  both("sub", fn::Sub, [](double a, double b) { return a - b; });
  both("mul", fn::Mul, [](double a, double b) { return a * b; });
  both("div", [](Var a, Var b) { return a / fn::Exp(b); }, [](double a, double b) { return a / std::exp(b); });
}

TEST(GraphOps, Broadcasting) {
  // A row vector, a scalar, a general [2,1,4] pattern, and one input used twice.
  Check({"mul by row", {2, 5, 6}, {{6}}, [](Graph& g, Var x, const std::vector<Param*>& p) { return x * Par(g, p, 0); },
         [](const Vec& x, const ref::Params& p) { return Zip(x, P(p, 0), [](double a, double b) { return a * b; }); }});
  Check({"add scalar", {2, 5, 6}, {{1}}, [](Graph& g, Var x, const std::vector<Param*>& p) { return x + Par(g, p, 0); },
         [](const Vec& x, const ref::Params& p) { return Zip(x, P(p, 0), [](double a, double b) { return a + b; }); }});
  Check({"div by row", {2, 5, 6}, {{6}},
         [](Graph& g, Var x, const std::vector<Param*>& p) { return x / fn::Exp(Par(g, p, 0)); },
         [](const Vec& x, const ref::Params& p) {
           return Zip(x, P(p, 0), [](double a, double b) { return a / std::exp(b); });
         }});
  Check({"sub general", {2, 5, 4}, {{2, 1, 4}}, [](Graph& g, Var x, const std::vector<Param*>& p) { return x - Par(g, p, 0); },
         [](const Vec& x, const ref::Params& p) {
           Vec y(x.size());
           for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] - P(p, 0)[(i / 20) * 4 + i % 4];
           return y;
         },
         nullptr, /*decode=*/false});
  Check({"x*x (two gradients into one input)", {2, 5, 6}, {}, [](Graph&, Var x, const std::vector<Param*>&) { return x * x; },
         [](const Vec& x, const ref::Params&) { return Map(x, [](double v) { return v * v; }); }});
  Check({"addcmul with a scalar", {2, 5, 12}, {{1}},
         [](Graph& g, Var x, const std::vector<Param*>& p) {
           auto h = fn::Split(x, {6, 6});
           return fn::AddCMul(h[0], Par(g, p, 0), h[1]);
         },
         [](const Vec& x, const ref::Params& p) {
           auto [a, b] = Halves(x, 6);
           for (size_t i = 0; i < a.size(); ++i) a[i] += P(p, 0)[0] * b[i];
           return a;
         },
         LastDim(6)});
  for (bool row : {false, true})
    Check({row ? "addcmul with a row" : "addcmul elementwise", {2, 5, 12}, {row ? Shape{6} : Shape{2, 5, 6}},
           [](Graph& g, Var x, const std::vector<Param*>& p) {
             auto h = fn::Split(x, {6, 6});
             return fn::AddCMul(h[0], Par(g, p, 0), h[1]);
           },
           [](const Vec& x, const ref::Params& p) {
             auto [a, b] = Halves(x, 6);
             for (size_t i = 0; i < a.size(); ++i) a[i] += P(p, 0)[i % P(p, 0).size()] * b[i];
             return a;
           },
           LastDim(6), /*decode=*/row});
  Check({"scale", {2, 5, 6}, {}, [](Graph&, Var x, const std::vector<Param*>&) { return -2.5f * x; },
         [](const Vec& x, const ref::Params&) { return Map(x, [](double v) { return -2.5 * v; }); }});
}

TEST(GraphOps, Unary) {
  auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
  struct U {
    const char* name;
    Var (*op)(Var);
    std::function<double(double)> f;
  };
  const std::vector<U> cases = {
      {"exp", fn::Exp, [](double v) { return std::exp(v); }},
      {"tanh", fn::Tanh, [](double v) { return std::tanh(v); }},
      {"sigmoid", fn::Sigmoid, sig},
      {"silu", fn::Silu, [](double v) { return ref::Silu(v); }},
      {"gelu_erf", fn::GeluErf, [](double v) { return ref::Gelu(v, false); }},
      {"gelu_tanh", fn::GeluTanh, [](double v) { return ref::Gelu(v, true); }},
      {"relu", fn::Relu, [](double v) { return v > 0 ? v : 0; }},
      {"relu2", fn::Relu2, [](double v) { return v > 0 ? v * v : 0; }},
      {"softplus", fn::Softplus, [](double v) { return std::log1p(std::exp(v)); }},
  };
  for (const U& u : cases)
    Check({u.name, {2, 5, 6}, {}, [op = u.op](Graph&, Var x, const std::vector<Param*>&) { return op(x); },
           [f = u.f](const Vec& x, const ref::Params&) { return Map(x, f); }});
  Check({"log", {2, 5, 6}, {}, [](Graph&, Var x, const std::vector<Param*>&) { return fn::Log(fn::Sigmoid(x)); },
         [sig](const Vec& x, const ref::Params&) { return Map(x, [&](double v) { return std::log(sig(v)); }); }});
}

// ---- rows --------------------------------------------------------------------------------------
Vec RowSoftmax(const Vec& x, int64_t d, bool log) {
  Vec y(x.size());
  for (size_t r = 0; r < x.size() / d; ++r) {
    double mx = -1e300, s = 0;
    for (int64_t j = 0; j < d; ++j) mx = std::max(mx, x[r * d + j]);
    for (int64_t j = 0; j < d; ++j) s += std::exp(x[r * d + j] - mx);
    for (int64_t j = 0; j < d; ++j) {
      const double l = x[r * d + j] - mx - std::log(s);
      y[r * d + j] = log ? l : std::exp(l);
    }
  }
  return y;
}

TEST(GraphOps, Rows) {
  Check({"softmax", {2, 5, 6}, {}, [](Graph&, Var x, const std::vector<Param*>&) { return fn::Softmax(x); },
         [](const Vec& x, const ref::Params&) { return RowSoftmax(x, 6, false); }});
  Check({"log_softmax", {2, 5, 6}, {}, [](Graph&, Var x, const std::vector<Param*>&) { return fn::LogSoftmax(x); },
         [](const Vec& x, const ref::Params&) { return RowSoftmax(x, 6, true); }});
  Check({"rmsnorm", {2, 5, 6}, {{6}},
         [](Graph& g, Var x, const std::vector<Param*>& p) { return fn::RmsNorm(x, Par(g, p, 0), 1e-6f); },
         [](const Vec& x, const ref::Params& p) { return ref::RmsNorm(x, 6, P(p, 0), 1e-6); }});
  Check({"rmsnorm without weight", {2, 5, 6}, {},
         [](Graph&, Var x, const std::vector<Param*>&) { return fn::RmsNorm(x, Var(), 1e-6f); },
         [](const Vec& x, const ref::Params&) { return ref::RmsNorm(x, 6, Vec(6, 1.0), 1e-6); }});
  Check({"layernorm", {2, 5, 6}, {{6}, {6}},
         [](Graph& g, Var x, const std::vector<Param*>& p) { return fn::LayerNorm(x, Par(g, p, 0), Par(g, p, 1)); },
         [](const Vec& x, const ref::Params& p) { return ref::LayerNorm(x, 6, P(p, 0), P(p, 1), 1e-5); }, nullptr, true,
         0, 3e-5, 5e-3});
}

TEST(GraphOps, Reductions) {
  for (bool mean : {false, true}) {
    Check({mean ? "mean over channels" : "sum over channels", {2, 5, 6}, {},
           [mean](Graph&, Var x, const std::vector<Param*>&) { return mean ? fn::Mean(x, -1, true) : fn::Sum(x, 2, true); },
           [mean](const Vec& x, const ref::Params&) {
             Vec y(x.size() / 6, 0.0);
             for (size_t i = 0; i < x.size(); ++i) y[i / 6] += x[i] / (mean ? 6.0 : 1.0);
             return y;
           },
           LastDim(1)});
    Check({mean ? "mean over time" : "sum over time", {2, 5, 6}, {},
           [mean](Graph&, Var x, const std::vector<Param*>&) { return mean ? fn::Mean(x, 1) : fn::Sum(x, 1); },
           [mean](const Vec& x, const ref::Params&) {
             Vec y(12, 0.0);
             for (size_t i = 0; i < x.size(); ++i) y[(i / 30) * 6 + i % 6] += x[i] / (mean ? 5.0 : 1.0);
             return y;
           },
           [](const Shape& s) { return Shape{s[0], s[2]}; }, /*decode=*/false});
  }
}

// ---- products ------------------------------------------------------------------------------------
// [n, k] . [k, m] with optional transposes given the stored shapes.
Vec MatRef(const Vec& a, const Vec& b, int64_t n, int64_t k, int64_t m, bool ta, bool tb) {
  Vec c(n * m, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j)
      for (int64_t l = 0; l < k; ++l) c[i * m + j] += (ta ? a[l * n + i] : a[i * k + l]) * (tb ? b[j * k + l] : b[l * m + j]);
  return c;
}

TEST(GraphOps, Products) {
  for (bool tb : {false, true})
    Check({tb ? "matmul b^T" : "matmul", {2, 5, 6}, {tb ? Shape{3, 6} : Shape{6, 3}},
           [tb](Graph& g, Var x, const std::vector<Param*>& p) {
             return fn::Reshape(fn::Matmul(fn::Reshape(x, {-1, 6}), Par(g, p, 0), false, tb), {2, -1, 3});
           },
           [tb](const Vec& x, const ref::Params& p) { return MatRef(x, P(p, 0), 10, 6, 3, false, tb); }, LastDim(3)});
  Check({"matmul a^T (mixes time: no decode)", {2, 5, 6}, {{10, 3}},
         [](Graph& g, Var x, const std::vector<Param*>& p) {
           return fn::Matmul(fn::Reshape(x, {10, 6}), Par(g, p, 0), true, false);
         },
         [](const Vec& x, const ref::Params& p) { return MatRef(x, P(p, 0), 6, 10, 3, true, false); },
         [](const Shape&) { return Shape{6, 3}; }, false});
  Check({"matmul batched a^T b^T", {2, 4, 5}, {{2, 5, 3}},
         [](Graph& g, Var x, const std::vector<Param*>& p) { return fn::Matmul(Par(g, p, 0), x, true, true); },
         [](const Vec& x, const ref::Params& p) {
           Vec y;
           for (int bi = 0; bi < 2; ++bi) {
             const Vec a(P(p, 0).begin() + bi * 15, P(p, 0).begin() + (bi + 1) * 15), b(x.begin() + bi * 20, x.begin() + (bi + 1) * 20);
             const Vec c = MatRef(a, b, 3, 5, 4, true, true);
             y.insert(y.end(), c.begin(), c.end());
           }
           return y;
         },
         [](const Shape&) { return Shape{2, 3, 4}; }, false});
  Check({"linear with bias", {2, 5, 6}, {{4, 6}, {4}},
         [](Graph& g, Var x, const std::vector<Param*>& p) { return fn::Linear(x, Par(g, p, 0), Par(g, p, 1)); },
         [](const Vec& x, const ref::Params& p) { return ref::Linear(x, 6, P(p, 0), P(p, 1)); }, LastDim(4)});
}

// ---- time ------------------------------------------------------------------------------------------
// y[b, t, c] = f over x[b, 0..T, c] for [2, 5, 6] inputs.
Vec OverTime(const Vec& x, int64_t t, int64_t c, const std::function<double(const Vec& col, int64_t ti)>& f) {
  Vec y(x.size());
  for (size_t bi = 0; bi < x.size() / (t * c); ++bi)
    for (int64_t ch = 0; ch < c; ++ch) {
      Vec col(t);
      for (int64_t ti = 0; ti < t; ++ti) col[ti] = x[(bi * t + ti) * c + ch];
      for (int64_t ti = 0; ti < t; ++ti) y[(bi * t + ti) * c + ch] = f(col, ti);
    }
  return y;
}

TEST(GraphOps, Time) {
  for (bool mean : {false, true})
    Check({mean ? "cummean" : "cumsum", {2, 7, 6}, {},
           [mean](Graph&, Var x, const std::vector<Param*>&) { return mean ? fn::CumMean(x) : fn::CumSum(x); },
           [mean](const Vec& x, const ref::Params&) {
             return OverTime(x, 7, 6, [mean](const Vec& col, int64_t ti) {
               double s = 0;
               for (int64_t j = 0; j <= ti; ++j) s += col[j];
               return mean ? s / (ti + 1) : s;
             });
           }});
  Check({"shift by 2", {2, 7, 6}, {}, [](Graph&, Var x, const std::vector<Param*>&) { return fn::Shift(x, 2); },
         [](const Vec& x, const ref::Params&) {
           return OverTime(x, 7, 6, [](const Vec& col, int64_t ti) { return ti >= 2 ? col[ti - 2] : 0.0; });
         }});
  for (bool bias : {false, true})
    Check({bias ? "causal conv k3 with bias" : "causal conv k3", {2, 7, 6}, bias ? std::vector<Shape>{{3, 6}, {6}} : std::vector<Shape>{{3, 6}},
           [bias](Graph& g, Var x, const std::vector<Param*>& p) {
             return fn::CausalConv1d(x, Par(g, p, 0), bias ? Par(g, p, 1) : Var());
           },
           [bias](const Vec& x, const ref::Params& p) {
             Vec y(x.size());
             for (size_t i = 0; i < x.size(); ++i) {
               const int64_t ch = i % 6, ti = (i / 6) % 7;
               double s = bias ? P(p, 1)[ch] : 0.0;
               for (int64_t j = 0; j < 3 && j <= ti; ++j) s += P(p, 0)[j * 6 + ch] * x[i - j * 6];
               y[i] = s;
             }
             return y;
           }});
}

Vec AttentionRef(const Vec& q, const Vec& k, const Vec& v, int64_t b, int64_t t, int64_t heads, int64_t hd) {
  Vec o(q.size(), 0.0);
  const int64_t w = heads * hd;
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < t; ++i) {
        Vec s(i + 1);
        double mx = -1e300, sum = 0;
        for (int64_t j = 0; j <= i; ++j) {
          double dot = 0;
          for (int64_t c = 0; c < hd; ++c) dot += q[(bi * t + i) * w + h * hd + c] * k[(bi * t + j) * w + h * hd + c];
          s[j] = dot / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[j]);
        }
        for (auto& sj : s) sum += (sj = std::exp(sj - mx));
        for (int64_t j = 0; j <= i; ++j)
          for (int64_t c = 0; c < hd; ++c) o[(bi * t + i) * w + h * hd + c] += s[j] / sum * v[(bi * t + j) * w + h * hd + c];
      }
  return o;
}

TEST(GraphOps, AttentionAndRope) {
  static const tinylm::Rope rope(4, RopeOptions{});
  Check({"causal attention, 2 heads", {2, 6, 24}, {},
         [](Graph&, Var x, const std::vector<Param*>&) {
           auto qkv = fn::Split(x, {8, 8, 8});
           return fn::CausalAttention(qkv[0], qkv[1], qkv[2], 2);
         },
         [](const Vec& x, const ref::Params&) {
           Vec q, k, v;
           for (size_t r = 0; r < x.size() / 24; ++r)
             for (int j = 0; j < 24; ++j) (j < 8 ? q : j < 16 ? k : v).push_back(x[r * 24 + j]);
           return AttentionRef(q, k, v, 2, 6, 2, 4);
         },
         LastDim(8)});
  Check({"rope, 2 heads", {2, 6, 8}, {}, [](Graph&, Var x, const std::vector<Param*>&) { return fn::Rope(x, rope, 2); },
         [](const Vec& x, const ref::Params&) { return ref::Rope(x, 2, 6, 2, 4, false, 10000, 1); }});
}

// ---- shapes -----------------------------------------------------------------------------------------
TEST(GraphOps, Shapes) {
  Check({"reshape + transpose of the last two axes", {2, 5, 6}, {},
         [](Graph&, Var x, const std::vector<Param*>&) { return fn::Reshape(fn::Transpose(fn::Reshape(x, {2, -1, 2, 3}), 2, 3), {2, -1, 6}); },
         [](const Vec& x, const ref::Params&) {
           Vec y(x.size());
           for (size_t r = 0; r < x.size() / 6; ++r)
             for (int i = 0; i < 2; ++i)
               for (int j = 0; j < 3; ++j) y[r * 6 + j * 2 + i] = x[r * 6 + i * 3 + j];
           return y;
         }});
  Check({"transpose batch and channels (no decode)", {2, 5, 3}, {},
         [](Graph&, Var x, const std::vector<Param*>&) { return fn::Transpose(x, 0, 2); },
         [](const Vec& x, const ref::Params&) {
           Vec y(x.size());
           for (int b = 0; b < 2; ++b)
             for (int t = 0; t < 5; ++t)
               for (int c = 0; c < 3; ++c) y[(c * 5 + t) * 2 + b] = x[(b * 5 + t) * 3 + c];
           return y;
         },
         [](const Shape&) { return Shape{3, 5, 2}; }, false});
  Check({"slice + concat (reordered halves, one used twice)", {2, 5, 6}, {},
         [](Graph&, Var x, const std::vector<Param*>&) {
           return fn::Concat({fn::Slice(x, 2, 3, 6), fn::Slice(x, -1, 0, 3), fn::Slice(x, 2, 3, 6)}, -1);
         },
         [](const Vec& x, const ref::Params&) {
           Vec y;
           for (size_t r = 0; r < x.size() / 6; ++r)
             for (int j : {3, 4, 5, 0, 1, 2, 3, 4, 5}) y.push_back(x[r * 6 + j]);
           return y;
         },
         LastDim(9)});
  Check({"gather (embedding lookup)", {2, 5}, {{11, 4}},
         [](Graph& g, Var ids, const std::vector<Param*>& p) { return fn::Gather(Par(g, p, 0), ids); },
         [](const Vec& ids, const ref::Params& p) {
           Vec y;
           for (double id : ids)
             for (int j = 0; j < 4; ++j) y.push_back(P(p, 0)[static_cast<int64_t>(id) * 4 + j]);
           return y;
         },
         [](const Shape& s) { return Shape{s[0], s[1], 4}; }, true, /*vocab=*/11});
}

TEST(GraphOps, Dropout) {
  // The harness runs at seed 1, step 3; the mask is the Dropout layer's for tag "probe.drop".
  Check({"dropout 0.3", {2, 5, 6}, {}, [](Graph&, Var x, const std::vector<Param*>&) { return fn::Dropout(x, 0.3f, "drop"); },
         [](const Vec& x, const ref::Params&) {
           const uint64_t stream = HashString("probe.drop") ^ (3 * 0x9e3779b97f4a7c15ULL);
           Vec y(x.size());
           for (size_t i = 0; i < x.size(); ++i) y[i] = CounterUniform(1, stream, i) >= 0.3f ? x[i] / 0.7 : 0.0;
           return y;
         }});
}

// Ops report shape errors naming themselves, and a bad id does not crash.
TEST(GraphOps, ShapeErrorsNameTheOp) {
  ParamStore store;
  Context ctx(1, 1);
  auto build = [&](BuildFn f, Shape in) {
    OpProbe probe(store, {}, std::move(f), nullptr);
    probe.Forward(ctx, Tensor::Zeros(in), Mode::kTrain);
  };
  try {
    build([](Graph&, Var x, const std::vector<Param*>&) { return fn::Add(x, fn::Slice(x, 2, 0, 4)); }, {2, 3, 6});
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("add: shapes [2,3,6] and [2,3,4] do not broadcast"), std::string::npos) << e.what();
  }
  EXPECT_THROW(build([](Graph&, Var x, const std::vector<Param*>&) { return fn::CausalAttention(x, x, x, 4); }, {2, 3, 6}),
               std::invalid_argument);
}

}  // namespace
}  // namespace tinylm::testing
