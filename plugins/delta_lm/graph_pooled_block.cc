// Delta block option C written as its forward pass alone (a graph layer); backward and decode
// (CumMean's running sums, Shift's last row) are derived. Same parameter names as the
// hand-written PooledDeltaBlock (pooled_delta_block.cc), which it matches within float rounding.
#include "delta_blocks.h"
#include "tinylm/graph/graph_layer.h"

namespace tinylm::delta_lm {
namespace {

class GraphPooledBlock : public GraphLayer {
 public:
  GraphPooledBlock(const LayerBuildContext& c, const plugins::DeltaBlockConfig& cfg)
      : GraphLayer("delta_block (graph)", c) {
    const int64_t d = c.d_model;
    ln1_ = Norm("ln1", d);
    if (cfg.delta()) alpha_ = Declare("alpha", {1}, Init::Constant(cfg.alpha_init()), false);
    gamma1_ = Declare("gamma1", {1}, Init::Constant(cfg.gamma_init()), false);
    gamma2_ = Declare("gamma2", {1}, Init::Constant(cfg.gamma_init()), false);
    mix_norm_ = Norm("mix_norm", d);
    ln2_ = Norm("ln2", d);
    fc1_ = DeclareLinear("ffn.fc1", d, 4 * d, true, DenseInitStd(c, cfg, d, 4 * d));
    fc2_ = DeclareLinear("ffn.fc2", 4 * d, d, true, DenseInitStd(c, cfg, 4 * d, d));
  }

 protected:
  // h = LN1(x); m_t = mean(h_1..h_t) + alpha (h_t - h_{t-1}); x1 = x + gamma1 LN_mix(m);
  // y = x1 + gamma2 FFN(LN2(x1)).
  Var Build(Graph& g, Var x) override {
    const Var h = LayerNorm(g, x, ln1_);
    Var m = fn::CumMean(h);
    if (alpha_) m = fn::AddCMul(m, g.Parameter(alpha_), h - fn::Shift(h, 1));
    const Var x1 = fn::AddCMul(x, g.Parameter(gamma1_), LayerNorm(g, m, mix_norm_));
    const Var ffn = fn::Linear(fn::GeluErf(fn::Linear(LayerNorm(g, x1, ln2_), fc1_)), fc2_);
    return fn::AddCMul(x1, g.Parameter(gamma2_), ffn);
  }

 private:
  LinearParams Norm(const std::string& name, int64_t d) {
    return {Declare(name + ".weight", {d}, Init::Constant(1.0f), false),
            Declare(name + ".bias", {d}, Init::Constant(0.0f), false)};
  }
  static Var LayerNorm(Graph& g, Var x, const LinearParams& p) {
    return fn::LayerNorm(x, g.Parameter(p.weight), g.Parameter(p.bias), 1e-5f);
  }
  LinearParams ln1_, mix_norm_, ln2_, fc1_, fc2_;
  Param *alpha_ = nullptr, *gamma1_ = nullptr, *gamma2_ = nullptr;
};

}  // namespace

LayerPtr MakeGraphPooledBlock(const LayerBuildContext& ctx, const plugins::DeltaBlockConfig& cfg) {
  return std::make_unique<GraphPooledBlock>(ctx, cfg);
}

}  // namespace tinylm::delta_lm
