// The delta LM block through the layer harness: naive double reference (every memory and delta
// mode), finite differences, decode == forward, determinism.
#include <gtest/gtest.h>
#include <google/protobuf/text_format.h>

#include <cmath>
#include <cstring>
#include <set>

#include "layer_harness.h"
#include "tinylm/plugins/plugin_manager.h"

namespace tinylm::testing {
namespace {

double Sig(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// The memory read of options A and B, with the delta weight and decay per position (lambda
// empty: running mean).
ref::Vec MemoryRead(const ref::Vec& qkv, int64_t b, int64_t t, int64_t d, const ref::Vec& alpha, const ref::Vec& lambda) {
  ref::Vec r(b * t * d);
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t c = 0; c < d; ++c) {
      double cprev = 0;
      for (int64_t ti = 0; ti < t; ++ti) {
        const int64_t row = bi * t + ti;
        const double q = qkv[row * 3 * d + c], kv = qkv[row * 3 * d + d + c] * qkv[row * 3 * d + 2 * d + c];
        const double ct = lambda.empty() ? (ti * cprev + kv) / (ti + 1) : lambda[row] * cprev + (1 - lambda[row]) * kv;
        r[row * d + c] = Sig(q) * (ct + alpha[row] * (kv - cprev));
        cprev = ct;
      }
    }
  return r;
}

// x + g * y, with g a scalar (stride 0) or one gate per row of width d.
ref::Vec Gated(const ref::Vec& x, const double* g, int64_t stride, const ref::Vec& y, int64_t d) {
  ref::Vec out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = x[i] + g[(i / d) * stride] * y[i];
  return out;
}

struct Modes {
  bool decay, delta;
  // The delta weight of options A and C: alpha (learned), or fixed with decay memory.
  double Alpha(const ref::Params& p) const { return decay ? (delta ? 1.0 : 0.0) : delta ? p.at("m.alpha")[0] : 0.0; }
  double Lambda(const ref::Params& p) const { return decay ? Sig(p.at("m.theta")[0]) : 0.0; }
};

// Option A.
ref::Vec OptionA(const ref::Vec& x, int64_t b, int64_t t, int64_t d, Modes m, const ref::Params& p) {
  const ref::Vec h = ref::LayerNorm(x, d, p.at("m.ln1.weight"), p.at("m.ln1.bias"), 1e-5);
  const ref::Vec qkv = ref::Linear(h, d, p.at("m.qkv.weight"), p.at("m.qkv.bias"));
  const ref::Vec r = MemoryRead(qkv, b, t, d, ref::Vec(b * t, m.Alpha(p)),
                                m.decay ? ref::Vec(b * t, m.Lambda(p)) : ref::Vec());
  const ref::Vec x1 = Gated(x, p.at("m.gamma1").data(), 0, ref::Linear(r, d, p.at("m.out.weight"), p.at("m.out.bias")), d);
  const ref::Vec f = ref::GeluMlp(ref::LayerNorm(x1, d, p.at("m.ln2.weight"), p.at("m.ln2.bias"), 1e-5), d, 2 * d,
                                  false, p, "m.ffn");
  return Gated(x1, p.at("m.gamma2").data(), 0, f, d);
}

// Option B: norm-free, per-position sigmoid gates [mixer, FFN, delta or decay].
ref::Vec OptionB(const ref::Vec& x, int64_t b, int64_t t, int64_t d, Modes m, const ref::Params& p) {
  const int64_t g = m.decay || m.delta ? 3 : 2;
  ref::Vec s = ref::Linear(x, d, p.at("m.gates.weight"), p.at("m.gates.bias"));
  for (double& v : s) v = Sig(v);
  ref::Vec alpha(b * t, 0.0), lambda;
  for (int64_t r = 0; r < b * t; ++r) {
    if (m.decay) lambda.push_back(s[r * g + 2]);
    alpha[r] = m.decay ? (m.delta ? 1.0 : 0.0) : m.delta ? s[r * g + 2] : 0.0;
  }
  const ref::Vec qkv = ref::Linear(x, d, p.at("m.qkv.weight"), p.at("m.qkv.bias"));
  const ref::Vec r = MemoryRead(qkv, b, t, d, alpha, lambda);
  const ref::Vec x1 = Gated(x, s.data(), g, ref::Linear(r, d, p.at("m.out.weight"), p.at("m.out.bias")), d);
  ref::Vec f = ref::GeluMlp(x1, d, d, false, p, "m.ffn1");
  const ref::Vec f2 = ref::GeluMlp(x1, d, d, false, p, "m.ffn2");
  for (size_t i = 0; i < f.size(); ++i) f[i] += f2[i];
  return Gated(x1, s.data() + 1, g, f, d);
}

// Option C: parameter-free running mean (or decay) of h plus alpha (h_t - h_{t-1}).
ref::Vec OptionC(const ref::Vec& x, int64_t b, int64_t t, int64_t d, Modes m, const ref::Params& p) {
  const ref::Vec h = ref::LayerNorm(x, d, p.at("m.ln1.weight"), p.at("m.ln1.bias"), 1e-5);
  const double a = m.Alpha(p), lam = m.Lambda(p);
  ref::Vec mixed(h.size());
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t c = 0; c < d; ++c) {
      double cprev = 0, hprev = 0;
      for (int64_t ti = 0; ti < t; ++ti) {
        const int64_t i = (bi * t + ti) * d + c;
        const double ct = m.decay ? lam * cprev + (1 - lam) * h[i] : (ti * cprev + h[i]) / (ti + 1);
        mixed[i] = ct + a * (h[i] - hprev);
        cprev = ct;
        hprev = h[i];
      }
    }
  const ref::Vec x1 = Gated(x, p.at("m.gamma1").data(), 0,
                            ref::LayerNorm(mixed, d, p.at("m.mix_norm.weight"), p.at("m.mix_norm.bias"), 1e-5), d);
  const ref::Vec f = ref::GeluMlp(ref::LayerNorm(x1, d, p.at("m.ln2.weight"), p.at("m.ln2.bias"), 1e-5), d, 4 * d,
                                  false, p, "m.ffn");
  return Gated(x1, p.at("m.gamma2").data(), 0, f, d);
}

proto::LayerSpec BlockSpec(const std::string& text) {
  proto::LayerSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString("[tinylm.plugins.delta_block] { " + text + " }", &spec))
      << text;
  return spec;
}

using Reference = ref::Vec (*)(const ref::Vec&, int64_t, int64_t, int64_t, Modes, const ref::Params&);

// Every option in every memory and delta mode: naive double reference, finite differences,
// decode == forward, determinism (the harness).
TEST(DeltaBlock, AllOptionsAndModesAgainstTheReference) {
  PluginManager::Global().Load("delta_lm");
  struct Option {
    const char* text;
    Reference ref;
    const char* scalars;  // initial values of the learned scalars (not option B's: it has none)
  };
  struct Mode {
    const char* text;
    Modes modes;
  };
  for (const Option& o : std::vector<Option>{{"option: A", OptionA, "alpha_init: 0.7 gamma_init: 0.8"},
                                             {"option: B", OptionB, ""},
                                             {"option: C", OptionC, "alpha_init: 0.7 gamma_init: 0.8"}}) {
    for (const Mode& m : std::vector<Mode>{{"memory: MEAN delta: true", {false, true}},
                                          {"memory: MEAN delta: false", {false, false}},
                                          {"memory: DECAY", {true, true}},
                                          {"memory: DECAY delta: false", {true, false}}}) {
      const std::string scalars = std::string(o.scalars) + (m.modes.decay && *o.scalars ? " theta_init: 0.5" : "");
      const proto::LayerSpec spec = BlockSpec(std::string(o.text) + " " + m.text + " " + scalars);
      // Option C at T = 1 mixes to (1 + alpha) h_1, whose scale LN_mix removes: dL/dalpha is 0 up
      // to fp32 rounding there, which a relative check cannot judge, so its shortest case is T = 2.
      const int64_t shortest = o.ref == OptionC ? 2 : 1;
      for (const Shape& s : std::vector<Shape>{{1, shortest, 8}, {2, 7, 8}, {3, 5, 12}}) {
        const int64_t b = s[0], t = s[1], d = s[2];
        const Reference reference = o.ref;
        const Modes modes = m.modes;
        CheckLayer({std::string("delta ") + o.text + " " + m.text,
                    [spec, d](ParamStore& st) { return BuildLayer(spec, {&st, d, 64, "m", "m", 0.02f}); }, s,
                    [=](const ref::Vec& x, const ref::Params& p) { return reference(x, b, t, d, modes, p); }});
      }
    }
  }
}

// All three decompositions have the post's block size, 8d^2 + 11d + 3 (33,475 at d = 64).
TEST(DeltaBlock, EveryOptionHasThePostsBlockSize) {
  PluginManager::Global().Load("delta_lm");
  for (const char* option : {"A", "B", "C"})
    for (const char* memory : {"MEAN", "DECAY"})
      for (const int64_t d : {64, 128}) {
        ParamStore store;
        LayerPtr layer = BuildLayer(BlockSpec(std::string("option: ") + option + " memory: " + memory),
                                    {&store, d, 256, "m", "m", 0.02f});
        int64_t n = 0;
        for (const Param* p : layer->Params()) n += p->numel();
        EXPECT_EQ(n, 8 * d * d + 11 * d + 3) << option << " " << memory << " d " << d;
      }
}

// glorot_init draws each Dense(in -> out) with std sqrt(2 / (in + out)); otherwise the model's.
TEST(DeltaBlock, GlorotInitScalesEachDense) {
  PluginManager::Global().Load("delta_lm");
  const auto weight_std = [](const std::string& text, const std::string& param) {
    ParamStore store;
    LayerPtr layer = BuildLayer(BlockSpec(text), {&store, 64, 256, "m", "m", 0.02f});
    store.Allocate(3);
    for (const Param* p : layer->Params())
      if (p->name == param) {
        double s = 0;
        for (int64_t i = 0; i < p->numel(); ++i) s += static_cast<double>(p->value.f32()[i]) * p->value.f32()[i];
        return std::sqrt(s / p->numel());
      }
    ADD_FAILURE() << "no parameter " << param;
    return 0.0;
  };
  EXPECT_NEAR(weight_std("option: A", "m.qkv.weight"), 0.02, 0.001);
  EXPECT_NEAR(weight_std("option: A glorot_init: true", "m.qkv.weight"), std::sqrt(2.0 / 128), 0.005);
  EXPECT_NEAR(weight_std("option: C glorot_init: true", "m.ffn.fc1.weight"), std::sqrt(2.0 / 320), 0.003);
  EXPECT_NEAR(weight_std("option: B glorot_init: true", "m.gates.weight"), std::sqrt(2.0 / 65), 0.02);
  EXPECT_NEAR(weight_std("option: B glorot_init: true", "m.ffn2.fc2.weight"), std::sqrt(2.0 / 128), 0.005);
}

// Option B has no scalars to initialise: saying so is an error naming the field.
TEST(DeltaBlock, OptionBRejectsScalarInitialValues) {
  PluginManager::Global().Load("delta_lm");
  const auto* entry = PluginManager::Global().FindLayer("tinylm.plugins.delta_block");
  ASSERT_NE(entry, nullptr);
  const auto check = [&](const std::string& text) {
    const proto::LayerSpec spec = BlockSpec(text);
    return entry->check(spec.GetReflection()->GetMessage(spec, SetExtension(spec)));
  };
  EXPECT_EQ(check("option: B memory: DECAY"), "");
  EXPECT_EQ(check("option: C gamma_init: 0.5"), "");
  EXPECT_NE(check("option: B gamma_init: 0.5").find("gamma_init: option B has no learned scalars"), std::string::npos);
}

}  // namespace
}  // namespace tinylm::testing

namespace tinylm::testing {
namespace {

// The post's data option: non-overlapping, aligned records, each once per epoch, seeded order.
TEST(RecordBatches, NonOverlappingRecordsOncePerEpoch) {
  PluginManager::Global().Load("delta_lm");
  TokenStream s;
  std::vector<int32_t> ids;
  for (int i = 0; i < 2570; ++i) ids.push_back(i);  // token value = position
  s.tokens = std::move(ids);
  proto::DataMixerSpec spec;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString("[tinylm.plugins.records] { length: 11 }", &spec));
  const auto* ext = SetExtension(spec);
  const auto& cfg = spec.GetReflection()->GetMessage(spec, ext);
  const auto* entry = PluginManager::Global().FindMixer(ext->full_name());
  auto mixer = PluginManager::Global().MakeMixer(*entry, cfg, {&s, 10});
  EXPECT_THROW(PluginManager::Global().MakeMixer(*entry, cfg, {&s, 12}), std::invalid_argument);
  const int64_t records = 2570 / 11, rows = 4;
  std::set<int32_t> seen;
  Batch b{Tensor::Empty({rows, 10}, DType::kS32), Tensor::Empty({rows, 10}, DType::kS32), Tensor()};
  for (int64_t step = 0; step * rows < records - rows; ++step) {
    mixer->Mix(9, step, &b);
    for (int64_t r = 0; r < rows; ++r) {
      const int32_t start = b.inputs.s32()[r * 10];
      EXPECT_EQ(start % 11, 0);  // aligned to a record
      EXPECT_TRUE(seen.insert(start).second) << "record " << start << " repeated within the epoch";
      for (int i = 0; i < 10; ++i) EXPECT_EQ(b.targets.s32()[r * 10 + i], start + i + 1);
    }
  }
  Batch again{Tensor::Empty({rows, 10}, DType::kS32), Tensor::Empty({rows, 10}, DType::kS32), Tensor()};
  auto other = PluginManager::Global().MakeMixer(*entry, cfg, {&s, 10});
  other->Mix(9, 3, &again);
  mixer->Mix(9, 3, &b);
  EXPECT_EQ(0, std::memcmp(b.inputs.raw(), again.inputs.raw(), b.inputs.bytes()));
}

}  // namespace
}  // namespace tinylm::testing
