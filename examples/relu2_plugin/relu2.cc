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
    pre_ = fc1_.Forward(ctx, x, mode);
    EnsureShape(act_, pre_.shape());
    const float* a = pre_.f32();
    float* h = act_.f32();
    for (int64_t i = 0, n = pre_.numel(); i < n; ++i) h[i] = a[i] > 0.0f ? a[i] * a[i] : 0.0f;
    return fc2_.Forward(ctx, act_, mode);
  }

  Tensor Backward(Context& ctx, const Tensor& dy) override {
    const Tensor dh = fc2_.Backward(ctx, dy);
    EnsureShape(dpre_, pre_.shape());
    const float* a = pre_.f32();
    const float* g = dh.f32();
    float* d = dpre_.f32();
    for (int64_t i = 0, n = pre_.numel(); i < n; ++i) d[i] = a[i] > 0.0f ? 2.0f * a[i] * g[i] : 0.0f;
    return fc1_.Backward(ctx, dpre_);
  }

  std::vector<Param*> Params() const override {
    std::vector<Param*> p = fc1_.Params();
    AppendUnique(p, fc2_.Params());
    return p;
  }

  // Every layer reports its FLOPs (for GFLOP/s figures): the projections, plus the square.
  double ForwardFlops() const override {
    return fc1_.ForwardFlops() + fc2_.ForwardFlops() + (act_.defined() ? 2.0 * act_.numel() : 0.0);
  }
  std::vector<const Layer*> Children() const override { return {&fc1_, &fc2_}; }

 private:
  Linear fc1_, fc2_;
  Tensor pre_, act_, dpre_;
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
