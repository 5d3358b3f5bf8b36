// MicroMixer's plugin layers through the same harness as the core layers: naive double
// references, finite differences, decode == forward, determinism.
#include <gtest/gtest.h>
#include <google/protobuf/text_format.h>

#include <cmath>

#include "layer_harness.h"
#include "tinylm/layers/layer_check.h"
#include "tinylm/plugins/plugin_manager.h"

namespace tinylm::testing {
namespace {

LayerCase PluginCase(const std::string& name, const std::string& spec_text, const Shape& in,
                     std::function<ref::Vec(const ref::Vec&, const ref::Params&)> reference) {
  PluginManager::Global().Load("micromixer");
  proto::LayerSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(spec_text, &spec)) << spec_text;
  const int64_t d = in.back();
  return {name, [spec, d](ParamStore& s) { return BuildLayer(spec, {&s, d, 64, "m", "m", 0.02f}); }, in, reference};
}

// Reference HyperMixing without dropout: p_t = mean(u_1..u_t); z = fc2(gelu(fc1 p)); u*z[:H] + z[H:].
ref::Vec HyperMixingRef(const ref::Vec& u, int64_t b, int64_t t, int64_t h, int64_t hid, const ref::Params& p) {
  ref::Vec mean(u.size());
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t c = 0; c < h; ++c) {
      double s = 0;
      for (int64_t ti = 0; ti < t; ++ti) {
        s += u[(bi * t + ti) * h + c];
        mean[(bi * t + ti) * h + c] = s / (ti + 1);
      }
    }
  ref::Vec a = ref::Linear(mean, h, p.at("m.fc1.weight"), p.at("m.fc1.bias"));
  for (auto& v : a) v = ref::Gelu(v, false);
  const ref::Vec z = ref::Linear(a, hid, p.at("m.fc2.weight"), p.at("m.fc2.bias"));
  ref::Vec out(u.size());
  for (int64_t r = 0; r < b * t; ++r)
    for (int64_t c = 0; c < h; ++c) out[r * h + c] = u[r * h + c] * z[r * 2 * h + c] + z[r * 2 * h + h + c];
  return out;
}

TEST(MicroMixer, HyperMixing) {
  for (const Shape& s : std::vector<Shape>{{1, 1, 8}, {2, 7, 8}, {3, 5, 12}}) {
    const int64_t b = s[0], t = s[1], h = s[2];
    CheckLayer(PluginCase("hypermixing", "[tinylm.plugins.hypermixing] { hidden: 6 dropout: 0 }", s,
                          [=](const ref::Vec& x, const ref::Params& p) { return HyperMixingRef(x, b, t, h, 6, p); }));
  }
}

TEST(MicroMixer, HyperMixingWithDropoutPassesTheGenericChecks) {
  LayerCase c = PluginCase("hypermixing+dropout", "[tinylm.plugins.hypermixing] { hidden: 6 dropout: 0.3 }", {2, 6, 8}, nullptr);
  LayerCheckOptions opt;
  opt.input = c.in_shape;
  const LayerCheckReport rep = CheckLayerGeneric(c.make, opt);
  EXPECT_TRUE(rep.ok()) << rep.Format("hypermixing");
}

// out_j = x_j cos(th_j) + r_j sin(th_j), r_2k = -x_2k+1, r_2k+1 = x_2k.
ref::Vec RopeRef(const ref::Vec& x, int64_t b, int64_t t, int64_t d, bool quirky) {
  ref::Vec y(x.size());
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t ti = 0; ti < t; ++ti)
      for (int64_t j = 0; j < d; ++j) {
        const int64_t i = quirky ? j % (d / 2) : j / 2;
        const double th = ti * std::pow(10000.0, -2.0 * i / d);
        const int64_t o = (bi * t + ti) * d;
        const double r = j % 2 == 0 ? -x[o + j + 1] : x[o + j - 1];
        y[o + j] = x[o + j] * std::cos(th) + r * std::sin(th);
      }
  return y;
}

TEST(MicroMixer, EmbeddingRopeBothConventions) {
  for (bool quirky : {true, false}) {
    const Shape s{2, 9, 12};
    CheckLayer(PluginCase(quirky ? "quirky rope" : "rope", std::string("[tinylm.plugins.micromixer_rope] { quirky: ") + (quirky ? "true" : "false") + " }", s,
                          [=](const ref::Vec& x, const ref::Params&) { return RopeRef(x, 2, 9, 12, quirky); }));
  }
}

TEST(MicroMixer, QuirkyRopeIsNotNormPreservingButTheFixedOneIs) {
  PluginManager::Global().Load("micromixer");
  for (bool quirky : {true, false}) {
    proto::LayerSpec spec;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
        std::string("[tinylm.plugins.micromixer_rope] { quirky: ") + (quirky ? "true }" : "false }"), &spec));
    ParamStore s;
    LayerPtr l = BuildLayer(spec, {&s, 16, 64, "r", "r", 0.02f});
    Context ctx(1);
    const Tensor x = TestInput({1, 40, 16}, 0, 3);
    const Tensor y = l->Forward(ctx, x, Mode::kEval);
    double worst = 0;
    for (int64_t t = 0; t < 40; ++t) {
      double nx = 0, ny = 0;
      for (int64_t j = 0; j < 16; ++j) nx += std::pow(x.f32()[t * 16 + j], 2), ny += std::pow(y.f32()[t * 16 + j], 2);
      worst = std::max(worst, std::fabs(std::sqrt(ny / nx) - 1));
    }
    if (quirky) EXPECT_GT(worst, 0.05);
    else EXPECT_LT(worst, 1e-5);
  }
}

}  // namespace
}  // namespace tinylm::testing
