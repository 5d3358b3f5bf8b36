// The delta LM block through the layer harness: naive double reference (every memory and delta
// mode), finite differences, decode == forward, determinism.
#include <gtest/gtest.h>
#include <google/protobuf/text_format.h>

#include <cmath>
#include <cstring>
#include <set>

#include "layer_harness.h"
#include "tinylm/plugin_manager.h"

namespace tinylm::testing {
namespace {

ref::Vec DeltaRef(const ref::Vec& x, int64_t b, int64_t t, int64_t d, bool decay, bool delta, const ref::Params& p) {
  const ref::Vec h = ref::LayerNorm(x, d, p.at("m.ln1.weight"), p.at("m.ln1.bias"), 1e-5);
  const ref::Vec qkv = ref::Linear(h, d, p.at("m.qkv.weight"), p.at("m.qkv.bias"));
  const double alpha = decay ? 1.0 : delta ? p.at("m.alpha")[0] : 0.0;
  const double lam = decay ? 1.0 / (1.0 + std::exp(-p.at("m.theta")[0])) : 0.0;
  ref::Vec r(b * t * d);
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t c = 0; c < d; ++c) {
      double cprev = 0;
      for (int64_t ti = 0; ti < t; ++ti) {
        const int64_t row = bi * t + ti;
        const double q = qkv[row * 3 * d + c], kv = qkv[row * 3 * d + d + c] * qkv[row * 3 * d + 2 * d + c];
        const double ct = decay ? lam * cprev + (1 - lam) * kv : (ti * cprev + kv) / (ti + 1);
        r[row * d + c] = 1.0 / (1.0 + std::exp(-q)) * (ct + alpha * (kv - cprev));
        cprev = ct;
      }
    }
  const ref::Vec o = ref::Linear(r, d, p.at("m.out.weight"), p.at("m.out.bias"));
  ref::Vec x1(x.size());
  for (size_t i = 0; i < x.size(); ++i) x1[i] = x[i] + p.at("m.gamma1")[0] * o[i];
  const ref::Vec f = ref::GeluMlp(ref::LayerNorm(x1, d, p.at("m.ln2.weight"), p.at("m.ln2.bias"), 1e-5), d, 2 * d,
                                  false, p, "m.ffn");
  ref::Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x1[i] + p.at("m.gamma2")[0] * f[i];
  return y;
}

TEST(DeltaBlock, AllModesAgainstTheReference) {
  PluginManager::Global().Load("delta_lm");
  struct Mode {
    const char* text;
    bool decay, delta;
  };
  for (const Mode& m : std::vector<Mode>{{"memory: MEAN delta: true alpha_init: 0.7", false, true},
                                        {"memory: MEAN delta: false", false, false},
                                        {"memory: DECAY theta_init: 0.5", true, true}}) {
    for (const Shape& s : std::vector<Shape>{{1, 1, 8}, {2, 7, 8}, {3, 5, 12}}) {
      proto::LayerSpec spec;
      ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
          std::string("[tinylm.plugins.delta_block] { ") + m.text + " gamma_init: 0.8 }", &spec));
      const int64_t b = s[0], t = s[1], d = s[2];
      CheckLayer({std::string("delta ") + m.text, [spec, d](ParamStore& st) { return BuildLayer(spec, {&st, d, 64, "m", "m", 0.02f}); },
                  s, [=](const ref::Vec& x, const ref::Params& p) { return DeltaRef(x, b, t, d, m.decay, m.delta, p); }});
    }
  }
}

}  // namespace
}  // namespace tinylm::testing

namespace tinylm::testing {
namespace {

// The post's data option: non-overlapping, aligned records, each once per epoch, seeded order.
TEST(RecordBatches, NonOverlappingRecordsOncePerEpoch) {
  PluginManager::Global().Load("delta_lm");
  TokenStream s;
  for (int i = 0; i < 2570; ++i) s.tokens.push_back(i);  // token value = position
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
