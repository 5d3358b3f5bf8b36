// A reference test for a plugin layer: copy it next to your plugin and change the three marked
// parts. It loads the built plugin (a real .so, exactly as ablate does), builds the layer from a
// spec text, and checks
//   1. the forward against a naive double-precision re-implementation of the layer's formula,
//   2. everything the generic check proves (finite-difference gradients, gradients added to,
//      repeats and thread counts, causality, decode == forward), for several configs.
// Build: CMakeLists.txt adds it when GoogleTest is installed; run it with ctest.
#include <gtest/gtest.h>
#include <google/protobuf/text_format.h>

#include <cmath>

#include "tinylm/layers/layer_check.h"
#include "tinylm/model/model.h"
#include "tinylm/plugins/plugin_manager.h"

namespace {
using namespace tinylm;

// (1) The layer as the spec writes it.
const char* kLayer = "[tinylm.plugins.shift_conv] { kernel: 3 }";
constexpr int64_t kKernel = 3;

LayerPtr Build(ParamStore& store, int64_t d_model) {
  PluginManager::Global().LoadFile(SHIFT_CONV_PLUGIN_FILE);
  proto::LayerSpec spec;
  if (!google::protobuf::TextFormat::ParseFromString(kLayer, &spec)) throw std::runtime_error("bad layer text");
  return BuildLayer(spec, LayerBuildContext{&store, d_model, 64, "t", "t", 0.02f});
}

// (2) The naive reference, in double: y_t = silu(x_t Wg^T) * (sum_j w_j x_{t-j} + b).
std::vector<double> Reference(const ParamStore& s, const Tensor& x) {
  const int64_t B = x.dim(0), T = x.dim(1), D = x.dim(2);
  const float* wg = s.Find("t.gate.weight")->value.f32();  // [D, D]
  const float* w = s.Find("t.conv.weight")->value.f32();   // [K, D]
  const float* b = s.Find("t.conv.bias")->value.f32();     // [D]
  std::vector<double> y(x.numel());
  for (int64_t n = 0; n < B; ++n)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t c = 0; c < D; ++c) {
        const float* xt = x.f32() + (n * T + t) * D;
        double g = 0, conv = b[c];
        for (int64_t k = 0; k < D; ++k) g += double(wg[c * D + k]) * xt[k];
        for (int64_t j = 0; j < kKernel && j <= t; ++j) conv += double(w[j * D + c]) * xt[-j * D + c];
        y[(n * T + t) * D + c] = g / (1 + std::exp(-g)) * conv;
      }
  return y;
}

TEST(ShiftConv, ForwardMatchesTheNaiveReference) {
  ParamStore store;
  LayerPtr layer = Build(store, 16);
  store.Allocate(7);
  SetTestValues(store, 7);  // order-1 values: tiny initial weights would hide mistakes
  Context ctx(2);
  const Tensor x = TestInput({2, 9, 16}, 0, 3);
  const Tensor y = layer->Forward(ctx, x, Mode::kEval);
  const std::vector<double> ref = Reference(store, x);
  ASSERT_EQ(y.numel(), static_cast<int64_t>(ref.size()));
  double worst = 0;
  for (int64_t i = 0; i < y.numel(); ++i) worst = std::max(worst, std::abs(y.f32()[i] - ref[i]) / (1 + std::abs(ref[i])));
  EXPECT_LT(worst, 1e-5);
}

// (3) The generic checks, at the shapes your layer will see.
TEST(ShiftConv, PassesTheGenericLayerChecks) {
  LayerCheckOptions opt;
  opt.input = {2, 7, 16};
  const LayerCheckReport rep = CheckLayerGeneric([](ParamStore& s) { return Build(s, 16); }, opt);
  EXPECT_TRUE(rep.ok()) << rep.Format(kLayer);
}

}  // namespace
