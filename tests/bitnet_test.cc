// BitLinear (BitNet b1.58): the unquantised path through the layer harness (reference and finite
// differences), the quantised path against a double reference of the quantisers and of the
// straight-through gradients, the ternary levels, and the tiny-tiny-stories parameter count.
#include <gtest/gtest.h>
#include <google/protobuf/text_format.h>

#include <cmath>
#include <set>

#include "layer_harness.h"
#include "tinylm/layers/layer_check.h"
#include "tinylm/plugins/plugin_manager.h"
#include "tinylm/training/optim.h"

namespace tinylm::testing {
namespace {

proto::LayerSpec BitLinearSpec(const std::string& text) {
  proto::LayerSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString("[tinylm.plugins.bitlinear] { " + text + " }", &spec));
  return spec;
}

// Parameter-free RMSNorm per row of width n, and the inverse rms of each row.
ref::Vec Normed(const ref::Vec& x, int64_t n, ref::Vec* inv_rms) {
  ref::Vec y(x.size());
  for (size_t r = 0; r < x.size() / n; ++r) {
    double ss = 0;
    for (int64_t c = 0; c < n; ++c) ss += x[r * n + c] * x[r * n + c];
    const double inv = 1.0 / std::sqrt(ss / n + 1e-5);
    if (inv_rms) inv_rms->push_back(inv);
    for (int64_t c = 0; c < n; ++c) y[r * n + c] = x[r * n + c] * inv;
  }
  return y;
}

ref::Vec QuantizeRows(const ref::Vec& x, int64_t n) {
  ref::Vec q(x.size());
  for (size_t r = 0; r < x.size() / n; ++r) {
    double mx = 0;
    for (int64_t c = 0; c < n; ++c) mx = std::max(mx, std::fabs(x[r * n + c]));
    const double s = 127.0 / std::max(mx, 1e-5);
    for (int64_t c = 0; c < n; ++c) q[r * n + c] = std::clamp(std::nearbyint(x[r * n + c] * s), -128.0, 127.0) / s;
  }
  return q;
}

ref::Vec Ternary(const ref::Vec& w) {
  double sum = 0;
  for (double v : w) sum += std::fabs(v);
  const double g = std::max(sum / w.size(), 1e-5);
  ref::Vec q(w.size());
  for (size_t i = 0; i < w.size(); ++i) q[i] = std::clamp(std::nearbyint(w[i] / g), -1.0, 1.0) * g;
  return q;
}

// y = a b^T for a [m, k], b [n, k].
ref::Vec MatmulBt(const ref::Vec& a, const ref::Vec& b, int64_t k) {
  const int64_t m = a.size() / k, n = b.size() / k;
  ref::Vec y(m * n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t c = 0; c < k; ++c) s += a[i * k + c] * b[j * k + c];
      y[i * n + j] = s;
    }
  return y;
}

ref::Vec ToVec(const Tensor& t) { return ref::Vec(t.f32(), t.f32() + t.numel()); }

double MaxRelError(const ref::Vec& got, const ref::Vec& want) {
  double err = 0, scale = 1e-12;
  for (size_t i = 0; i < want.size(); ++i) {
    err = std::max(err, std::fabs(got[i] - want[i]));
    scale = std::max(scale, std::fabs(want[i]));
  }
  return err / scale;
}

// Without quantisers BitLinear is a parameter-free RMSNorm and a matmul: the full harness applies.
TEST(BitLinear, UnquantisedPathThroughTheHarness) {
  PluginManager::Global().Load("bitnet");
  const proto::LayerSpec spec = BitLinearSpec("quantize_activations: false quantize_weights: false");
  for (const Shape& s : std::vector<Shape>{{1, 1, 8}, {2, 7, 16}}) {
    const int64_t d = s[2];
    CheckLayer({"bitlinear unquantised", [spec, d](ParamStore& st) { return BuildLayer(spec, {&st, d, 64, "m", "m", 0.02f}); },
                s, [d](const ref::Vec& x, const ref::Params& p) { return MatmulBt(Normed(x, d, nullptr), p.at("m.weight"), d); }});
  }
}

// The quantised forward and its straight-through gradients against the double reference.
TEST(BitLinear, QuantisedForwardAndStraightThroughGradients) {
  PluginManager::Global().Load("bitnet");
  const int64_t b = 3, t = 5, d = 32;
  ParamStore store;
  LayerPtr layer = BuildLayer(BitLinearSpec(""), {&store, d, 64, "m", "m", 0.02f});
  store.Allocate(4);
  SetTestValues(store, 4);
  Param* w = store.Find("m.weight");
  const Tensor x = TestInput({b, t, d}, 0, 5);
  Context ctx(2, 1);
  const ref::Vec y = ToVec(layer->Forward(ctx, x, Mode::kTrain));
  const Tensor dy = TestInput({b, t, d}, 0, 6);
  store.ZeroGrads();
  const ref::Vec dx = ToVec(layer->Backward(ctx, dy));

  ref::Vec inv_rms;
  const ref::Vec xn = Normed(ToVec(x), d, &inv_rms);
  const ref::Vec xq = QuantizeRows(xn, d), wq = Ternary(ToVec(w->value));
  EXPECT_LT(MaxRelError(y, MatmulBt(xq, wq, d)), 1e-5);
  // dW = dy^T xq; g = dy wq; dx = r (g - xn mean(g xn)).
  const ref::Vec dyv = ToVec(dy);
  ref::Vec dw(d * d, 0.0), want_dx(x.numel());
  for (int64_t r = 0; r < b * t; ++r) {
    ref::Vec g(d, 0.0);
    for (int64_t o = 0; o < d; ++o)
      for (int64_t c = 0; c < d; ++c) {
        dw[o * d + c] += dyv[r * d + o] * xq[r * d + c];
        g[c] += dyv[r * d + o] * wq[o * d + c];
      }
    double dot = 0;
    for (int64_t c = 0; c < d; ++c) dot += g[c] * xn[r * d + c];
    for (int64_t c = 0; c < d; ++c) want_dx[r * d + c] = inv_rms[r] * (g[c] - xn[r * d + c] * dot / d);
  }
  EXPECT_LT(MaxRelError(ToVec(w->grad), dw), 1e-5);
  EXPECT_LT(MaxRelError(dx, want_dx), 1e-5);
}

// The ternary weights are made once per parameter update and cached on the store's version: a
// direct write is not seen until ParamStore::Touch (proof that forwards reuse the cache), an
// optimizer step is seen at once, and each forward matches the reference on current weights.
TEST(BitLinear, TernaryWeightsFollowTheStoreVersion) {
  PluginManager::Global().Load("bitnet");
  const int64_t d = 32;
  ParamStore store;
  LayerPtr layer = BuildLayer(BitLinearSpec(""), {&store, d, 64, "m", "m", 0.02f});
  store.Allocate(4);
  SetTestValues(store, 4);
  Param* w = store.Find("m.weight");
  const Tensor x = TestInput({2, 3, d}, 0, 5);
  Context ctx(2, 1);
  auto reference = [&] { return MatmulBt(QuantizeRows(Normed(ToVec(x), d, nullptr), d), Ternary(ToVec(w->value)), d); };
  const ref::Vec y0 = ToVec(layer->Forward(ctx, x, Mode::kEval));
  EXPECT_LT(MaxRelError(y0, reference()), 1e-5);

  for (int64_t i = 0; i < w->numel(); ++i) w->value.f32()[i] *= -1.0f;  // flips every ternary sign
  EXPECT_EQ(ToVec(layer->Forward(ctx, x, Mode::kEval)), y0) << "a forward re-quantised without a version change";
  store.Touch();
  const ref::Vec y1 = ToVec(layer->Forward(ctx, x, Mode::kEval));
  EXPECT_LT(MaxRelError(y1, reference()), 1e-5);
  EXPECT_NE(y1, y0);

  layer->Forward(ctx, x, Mode::kTrain);
  store.ZeroGrads();
  layer->Backward(ctx, TestInput({2, 3, d}, 0, 6));
  AdamW opt;
  opt.Step(store, 0.05f);  // large enough to move some weights across a rounding boundary
  const ref::Vec y2 = ToVec(layer->Forward(ctx, x, Mode::kEval));
  EXPECT_LT(MaxRelError(y2, reference()), 1e-5);
  EXPECT_NE(y2, y1);
}

// One-hot inputs read single weights: every output is -g, 0 or +g (times the norm's sqrt(d)).
TEST(BitLinear, WeightsAreTernary) {
  PluginManager::Global().Load("bitnet");
  const int64_t d = 16;
  ParamStore store;
  LayerPtr layer = BuildLayer(BitLinearSpec(""), {&store, d, 64, "m", "m", 0.02f});
  store.Allocate(7);
  Tensor x = Tensor::Zeros({1, d, d});
  for (int64_t i = 0; i < d; ++i) x.f32()[i * d + i] = 1.0f;
  Context ctx(2, 1);
  const Tensor y = layer->Forward(ctx, x, Mode::kEval);
  std::set<float> levels;
  for (int64_t i = 0; i < y.numel(); ++i) levels.insert(y.f32()[i]);
  EXPECT_EQ(levels.size(), 3u);
  EXPECT_FLOAT_EQ(*levels.begin(), -*levels.rbegin());
  EXPECT_TRUE(levels.count(0.0f));
}

// As a fused projection each part has its own scale: with one part's weights 10 times larger,
// one-hot inputs read -g1, 0, g1 from the first rows and -g2, 0, g2 (g2 = 10 g1) from the rest.
TEST(BitLinear, FusedPartsAreScaledSeparately) {
  PluginManager::Global().Load("bitnet");
  const int64_t d = 16;
  ParamStore store;
  LayerBuildContext ctx{&store, d, 64, "m", "m", 0.02f, d, 2 * d};
  ctx.out_parts = {d, d};
  LayerPtr layer = BuildLayer(BitLinearSpec(""), ctx);
  store.Allocate(7);
  Param* w = store.Find("m.weight");
  for (int64_t i = d * d; i < 2 * d * d; ++i) w->value.f32()[i] = 10.0f * w->value.f32()[i - d * d];
  store.Touch();
  Tensor x = Tensor::Zeros({1, d, d});
  for (int64_t i = 0; i < d; ++i) x.f32()[i * d + i] = 1.0f;
  Context c(2, 1);
  const Tensor y = layer->Forward(c, x, Mode::kEval);  // [1, d, 2d]
  std::set<float> first, second;
  for (int64_t r = 0; r < d; ++r)
    for (int64_t o = 0; o < 2 * d; ++o) (o < d ? first : second).insert(y.f32()[r * 2 * d + o]);
  ASSERT_EQ(first.size(), 3u);
  ASSERT_EQ(second.size(), 3u);
  EXPECT_NEAR(*second.rbegin(), 10.0f * *first.rbegin(), 1e-4f * *second.rbegin());
  ctx.out_parts = {d, d - 1};
  ParamStore other;
  ctx.store = &other;
  EXPECT_THROW(BuildLayer(BitLinearSpec(""), ctx), std::invalid_argument);
}

// tiny-tiny-stories (seed_systems.md section 3): every attention and SwiGLU matrix a BitLinear,
// no biases, tied embedding of the 192-token vocabulary: 998,784 parameters.
TEST(BitLinear, TinyTinyStoriesParameterCount) {
  PluginManager::Global().Load("bitnet");
  proto::ModelSpec spec;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"(
      d_model: 128 context: 512 tie_embeddings: true
      block {
        count: 5
        layer { residual { norm { rmsnorm {} } mixer { attention { heads: 4 rope {}
          projection { [tinylm.plugins.bitlinear] {} } } } } }
        layer { residual { norm { rmsnorm {} } mixer { swiglu { hidden: 336
          projection { [tinylm.plugins.bitlinear] {} } } } } }
      }
      final_norm { rmsnorm {} })", &spec));
  auto model = BuildModel(spec, 192);
  EXPECT_EQ(model->NumParams(), 998784);
}

}  // namespace
}  // namespace tinylm::testing
