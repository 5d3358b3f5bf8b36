// A plugin registering one component of each kind, for the plugin tests.
#include <cmath>

#include "test_components.pb.h"
#include "tinylm/plugins/plugin.h"

namespace {

using namespace tinylm;

// y = x * g, one learned scale per channel.
class Scale : public Layer {
 public:
  Scale(ParamStore& s, const std::string& name, int64_t d, float init)
      : d_(d), g_(s.Declare(name + ".g", {d}, Init::Constant(init), false)) {}
  std::string type() const override { return "test.scale"; }
  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override {
    Tensor y = ctx.Pooled(x.shape());  // recycled once nobody holds it
    const float* g = g_->value.f32();
    for (int64_t i = 0; i < x.numel(); ++i) y.f32()[i] = x.f32()[i] * g[i % d_];
    x_ = mode == Mode::kTrain ? x : Tensor();  // what Backward needs
    elements_ = x.numel();
    return y;
  }
  Tensor Backward(Context& ctx, const Tensor& dy) override {
    Tensor dx = ctx.Pooled(dy.shape());
    const float* g = g_->value.f32();
    float* dg = g_->grad.f32();
    for (int64_t i = 0; i < dy.numel(); ++i) {
      dx.f32()[i] = dy.f32()[i] * g[i % d_];
      dg[i % d_] += dy.f32()[i] * x_.f32()[i];
    }
    x_ = Tensor();  // done with it: its buffer goes back to the pool
    return dx;
  }
  std::vector<Param*> Params() const override { return {g_}; }
  double ForwardFlops() const override { return static_cast<double>(elements_); }

 private:
  int64_t d_;
  Param* g_;
  Tensor x_;
  int64_t elements_ = 0;
};

class DoubleWeight : public TokenWeighting {
 public:
  explicit DoubleWeight(float f) : f_(f) {}
  void Apply(const Batch&, Tensor& w) const override {
    for (int64_t i = 0; i < w.numel(); ++i) w.f32()[i] *= f_;
  }

 private:
  float f_;
};

// Copies row 1 of a batch over row 0 (a mixer that visibly changes what is trained on).
class SwapRows : public DataMixer {
 public:
  void Mix(uint64_t, uint64_t, Batch* b) const override {
    const int64_t t = b->inputs.dim(1);
    if (b->inputs.dim(0) < 2) return;
    for (int64_t i = 0; i < t; ++i) {
      b->inputs.s32()[i] = b->inputs.s32()[t + i];
      b->targets.s32()[i] = b->targets.s32()[t + i];
    }
  }
};

class MeanLogit : public Evaluator {
 public:
  std::vector<std::pair<std::string, double>> Evaluate(Context& ctx, LanguageModel& m, const Tokenizer& tok) override {
    const std::vector<int32_t> ids = tok.Encode("hello");
    Tensor x = Tensor::Empty({1, static_cast<int64_t>(ids.size())}, DType::kS32);
    for (size_t i = 0; i < ids.size(); ++i) x.s32()[i] = ids[i];
    const Tensor logits = m.Forward(ctx, x, Mode::kEval);
    double s = 0;
    for (int64_t i = 0; i < logits.numel(); ++i) s += logits.f32()[i];
    return {{"test mean logit", s / logits.numel()}};
  }
};

// Bytes, optionally lowercased; state tag "testbytes".
class TestBytes : public ByteTokenizer {
 public:
  explicit TestBytes(bool lower) : ByteTokenizer({}, 0), lower_(lower) {}
  std::string type() const override { return "test_bytes"; }
  std::vector<int32_t> Encode(std::string_view text) const override {
    std::vector<int32_t> ids = ByteTokenizer::Encode(text);
    if (lower_)
      for (int32_t& id : ids)
        if (id >= 'A' && id <= 'Z') id += 32;
    return ids;
  }
  std::string Save() const override { return std::string("testbytes ") + (lower_ ? "1" : "0"); }

 private:
  bool lower_;
};

void Register(PluginRegistrar& r) {
  r.AddLayer(
      "tinylm.test.scale",
      [](const ConfigMessage& c, const LayerBuildContext& ctx) -> LayerPtr {
        const auto& cfg = static_cast<const tinylm::test::ScaleConfig&>(c);
        if (ctx.in_dim != ctx.out_dim) throw std::invalid_argument("a scale cannot change the width");
        return std::make_unique<Scale>(*ctx.store, ctx.name, ctx.in_dim ? ctx.in_dim : ctx.d_model, cfg.init());
      },
      [](const ConfigMessage& c) -> std::string {
        return std::isfinite(static_cast<const tinylm::test::ScaleConfig&>(c).init()) ? "" : "init: must be finite";
      },
      {"init: 0.5"});
  r.AddTokenWeighting("tinylm.test.double_weight", [](const ConfigMessage& c, const WeightingContext&) {
    return std::make_unique<DoubleWeight>(static_cast<const tinylm::test::DoubleWeightConfig&>(c).factor());
  });
  r.AddDataMixer("tinylm.test.swap_rows",
                 [](const ConfigMessage&, const MixerContext&) { return std::make_unique<SwapRows>(); });
  r.AddEvaluator("tinylm.test.mean_logit",
                 [](const ConfigMessage&, const EvaluatorContext&) { return std::make_unique<MeanLogit>(); });
  r.AddTokenizer(
      "tinylm.test.test_bytes",
      [](const ConfigMessage& c, const TokenizerBuildContext&) {
        return std::make_unique<TestBytes>(static_cast<const tinylm::test::TestBytesConfig&>(c).lowercase());
      },
      "testbytes", [](const std::string& saved) { return std::make_unique<TestBytes>(saved == "testbytes 1"); });
}

}  // namespace

TINYLM_PLUGIN("test_components", "0.1.0", "one component of each kind, for tests", Register)
