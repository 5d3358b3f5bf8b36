// ShiftConv: y_t = silu(x_t Wg) * (sum_k w_k * x_{t-k} + b), a causal depthwise convolution
// with a SiLU gate. Its forward pass is all there is: backward and decode come from the graph.
#include <cmath>

#include "shift_conv.pb.h"
#include "tinylm/graph/graph_layer.h"
#include "tinylm/plugins/plugin.h"

namespace {
using namespace tinylm;

class ShiftConv : public GraphLayer {
 public:
  ShiftConv(const LayerBuildContext& c, const plugins::ShiftConvConfig& cfg)
      : GraphLayer("shift_conv", c),
        gate_(DeclareLinear("gate", c.d_model, c.d_model, false, c.init_std)),
        w_(Declare("conv.weight", {cfg.kernel(), c.d_model}, Init::Normal(1 / std::sqrt(cfg.kernel())), true)),
        b_(Declare("conv.bias", {c.d_model}, Init::Constant(0), false)) {}

 protected:
  Var Build(Graph& g, Var x) override {
    return fn::Silu(fn::Linear(x, gate_)) * fn::CausalConv1d(x, g.Parameter(w_), g.Parameter(b_));
  }

 private:
  LinearParams gate_;
  Param *w_, *b_;
};

void Register(PluginRegistrar& r) {
  AddLayerType<ShiftConv, plugins::ShiftConvConfig>(
      r, "tinylm.plugins.shift_conv", [](auto& c) { return c.kernel() > 0 ? "" : "kernel: must be positive"; },
      {"kernel: 4", "kernel: 1"});
}
}  // namespace

TINYLM_PLUGIN("shift_conv", "1.0.0", "causal depthwise convolution with a SiLU gate (a graph layer)", Register)
