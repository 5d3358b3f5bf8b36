// HyperMixing written as its forward pass alone (a graph layer): backward, decode (the running
// mean as CumMean's state) and buffer reuse are derived. Same parameter names and dropout
// stream as the hand-written HyperMixing in micromixer.cc, so the two agree output for output.
#include "graph_hypermixing.h"

#include "tinylm/graph/graph_layer.h"

namespace tinylm::micromixer {
namespace {

class GraphHyperMixing : public GraphLayer {
 public:
  GraphHyperMixing(const LayerBuildContext& c, const plugins::HyperMixingConfig& cfg)
      : GraphLayer("hypermixing (graph)", c),
        d_(c.d_model),
        dropout_(cfg.dropout()),
        fc1_(DeclareLinear("fc1", d_, cfg.hidden(), true, c.init_std)),
        fc2_(DeclareLinear("fc2", cfg.hidden(), 2 * d_, true, c.init_std)) {}

 protected:
  // m = dropout(u * scale + shift),  [scale; shift] = fc2(gelu(fc1(mean(u_1..u_t)))).
  Var Build(Graph&, Var u) override {
    const std::vector<Var> z = fn::Split(fn::Linear(fn::GeluErf(fn::Linear(fn::CumMean(u), fc1_)), fc2_), {d_, d_});
    return fn::Dropout(u * z[0] + z[1], dropout_, "dropout");
  }

 private:
  int64_t d_;
  float dropout_;
  LinearParams fc1_, fc2_;
};

}  // namespace

LayerPtr MakeGraphHyperMixing(const LayerBuildContext& ctx, const plugins::HyperMixingConfig& cfg) {
  return std::make_unique<GraphHyperMixing>(ctx, cfg);
}

}  // namespace tinylm::micromixer
