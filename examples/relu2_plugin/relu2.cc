// The squared-ReLU MLP as a tinylm plugin: y = fc2(relu(fc1 x)^2).
// The two projections are core Linear layers (oneDNN matmuls); the activation is a loop.
#include <memory>

#include "relu2.pb.h"
#include "tinylm/layers/linear.h"
#include "tinylm/plugins/plugin.h"

namespace {

using namespace tinylm;

class Relu2Mlp : public Layer {
 public:
  Relu2Mlp(const LayerBuildContext& ctx, const plugins::Relu2MlpConfig& cfg)
      : fc1_(*ctx.store, ctx.name + ".fc1", ctx.d_model, cfg.hidden(), cfg.bias(), ctx.init_std),
        fc2_(*ctx.store, ctx.name + ".fc2", cfg.hidden(), ctx.d_model, cfg.bias(), ctx.init_std) {}

  std::string type() const override { return "relu2_mlp"; }

  Tensor Forward(Context& ctx, const Tensor& x, Mode mode) override {
    const Tensor pre = fc1_.Forward(ctx, x, mode);
    Tensor act = ctx.Pooled(pre.shape());  // recycled once nobody holds it (fc2 keeps it to train)
    const float* a = pre.f32();
    float* h = act.f32();
    for (int64_t i = 0, n = pre.numel(); i < n; ++i) h[i] = a[i] > 0.0f ? a[i] * a[i] : 0.0f;
    pre_ = mode == Mode::kTrain ? pre : Tensor();  // what Backward needs
    act_elements_ = act.numel();
    return fc2_.Forward(ctx, act, mode);
  }

  Tensor Backward(Context& ctx, const Tensor& dy) override {
    const Tensor dh = fc2_.Backward(ctx, dy);
    Tensor dpre = ctx.Pooled(pre_.shape());
    const float* a = pre_.f32();
    const float* g = dh.f32();
    float* d = dpre.f32();
    for (int64_t i = 0, n = pre_.numel(); i < n; ++i) d[i] = a[i] > 0.0f ? 2.0f * a[i] * g[i] : 0.0f;
    pre_ = Tensor();  // done with it
    return fc1_.Backward(ctx, dpre);
  }

  std::vector<Param*> Params() const override {
    std::vector<Param*> p = fc1_.Params();
    AppendUnique(p, fc2_.Params());
    return p;
  }

  // Every layer reports its FLOPs (for GFLOP/s figures): the projections, plus the square.
  double ForwardFlops() const override {
    return fc1_.ForwardFlops() + fc2_.ForwardFlops() + 2.0 * static_cast<double>(act_elements_);
  }
  std::vector<const Layer*> Children() const override { return {&fc1_, &fc2_}; }

 private:
  Linear fc1_, fc2_;
  Tensor pre_;  // fc1's output, kept for backward
  int64_t act_elements_ = 0;
};

void Register(PluginRegistrar& r) {
  r.AddLayer(
      "tinylm.plugins.relu2_mlp",
      [](const ConfigMessage& cfg, const LayerBuildContext& ctx) -> LayerPtr {
        return std::make_unique<Relu2Mlp>(ctx, static_cast<const plugins::Relu2MlpConfig&>(cfg));
      },
      [](const ConfigMessage& cfg) -> std::string {
        return static_cast<const plugins::Relu2MlpConfig&>(cfg).hidden() > 0 ? "" : "hidden: must be positive";
      },
      /*example_configs=*/{"hidden: 24 bias: true", "hidden: 8"});
}

}  // namespace

TINYLM_PLUGIN("relu2", "1.0.0", "squared-ReLU MLP channel mixer (Primer)", Register)
