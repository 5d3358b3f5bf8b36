// Graph layers carry real layers: HyperMixing (MicroMixer) and delta block option C written as
// their forward passes alone must match the hand-written layers output for output and gradient
// for gradient, pass the generic check (finite differences, accumulation, threads, causality,
// decode == forward), and stop allocating after the first step.
#include <gtest/gtest.h>
#include <google/protobuf/text_format.h>

#include <cmath>
#include <map>

#include "tinylm/graph/graph.h"
#include "tinylm/layers/layer_check.h"
#include "tinylm/model/model.h"
#include "tinylm/plugins/plugin_manager.h"

namespace tinylm::testing {
namespace {

LayerMaker Maker(const std::string& plugin, const std::string& text, int64_t d) {
  PluginManager::Global().Load(plugin);
  proto::LayerSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec)) << text;
  return [spec, d](ParamStore& s) { return BuildLayer(spec, {&s, d, 64, "blk", "blk", 0.02f}); };
}

struct Run {
  Tensor y, dx, y_eval;
  std::map<std::string, Tensor> grads;
};

// Training forward (dropout on), backward of a fixed dy, then an eval forward.
Run Exercise(const LayerMaker& make, const Shape& in) {
  Context ctx(2, 5);
  ctx.set_step(7);
  ParamStore store;
  LayerPtr layer = make(store);
  store.Allocate(11);
  SetTestValues(store, 3);
  const Tensor x = TestInput(in, 0, 1);
  Run r;
  r.y = layer->Forward(ctx, x, Mode::kTrain).Clone();
  store.ZeroGrads();
  r.dx = layer->Backward(ctx, TestInput(r.y.shape(), 0, 2)).Clone();
  for (const auto& p : store.params()) r.grads[p->name] = p->grad.Clone();
  r.y_eval = layer->Forward(ctx, x, Mode::kEval).Clone();
  return r;
}

double RelDiff(const Tensor& a, const Tensor& b) {
  double e = 0, s = 1e-30;
  for (int64_t i = 0; i < a.numel(); ++i) {
    e = std::max(e, static_cast<double>(std::fabs(a.f32()[i] - b.f32()[i])));
    s = std::max(s, static_cast<double>(std::fabs(b.f32()[i])));
  }
  return e / s;
}

void ExpectSameLayer(const LayerMaker& hand, const LayerMaker& graph, const Shape& in, double tol) {
  const Run a = Exercise(hand, in), b = Exercise(graph, in);
  ASSERT_EQ(a.y.shape(), b.y.shape());
  EXPECT_LE(RelDiff(b.y, a.y), tol) << "training output";
  EXPECT_LE(RelDiff(b.y_eval, a.y_eval), tol) << "eval output";
  EXPECT_LE(RelDiff(b.dx, a.dx), tol) << "input gradient";
  ASSERT_EQ(a.grads.size(), b.grads.size());
  for (const auto& [name, g] : a.grads) {
    ASSERT_TRUE(b.grads.count(name)) << name;
    EXPECT_LE(RelDiff(b.grads.at(name), g), tol) << "gradient of " << name;
  }
}

void ExpectChecks(const LayerMaker& make, const Shape& in) {
  LayerCheckOptions opt;
  opt.input = in;
  const LayerCheckReport rep = CheckLayerGeneric(make, opt);
  EXPECT_TRUE(rep.ok()) << rep.Format("graph layer");
}

TEST(GraphLayers, HyperMixingMatchesTheHandWrittenLayer) {
  const std::string cfg = "hidden: 12 dropout: 0.2";
  const auto hand = Maker("micromixer", "[tinylm.plugins.hypermixing] { " + cfg + " }", 16);
  const auto graph = Maker("micromixer", "[tinylm.plugins.hypermixing] { " + cfg + " graph: true }", 16);
  ExpectSameLayer(hand, graph, {3, 9, 16}, 1e-6);
  ExpectChecks(graph, {2, 7, 16});
}

TEST(GraphLayers, DeltaOptionCMatchesTheHandWrittenBlock) {
  for (const std::string cfg : {"option: C alpha_init: 0.7 gamma_init: 0.9", "option: C delta: false"}) {
    SCOPED_TRACE(cfg);
    const auto hand = Maker("delta_lm", "[tinylm.plugins.delta_block] { " + cfg + " }", 16);
    const auto graph = Maker("delta_lm", "[tinylm.plugins.delta_block] { " + cfg + " graph: true }", 16);
    ExpectSameLayer(hand, graph, {3, 9, 16}, 2e-6);
    ExpectChecks(graph, {2, 7, 16});
  }
}

// Steady state allocates nothing: after the first step, forward + backward (and decode steps)
// reuse every node buffer.
TEST(GraphLayers, SteadyStateAllocatesNoBuffers) {
  const auto make = Maker("delta_lm", "[tinylm.plugins.delta_block] { option: C graph: true }", 16);
  Context ctx(2, 1);
  ParamStore store;
  LayerPtr layer = make(store);
  store.Allocate(1);
  const Tensor x = TestInput({2, 8, 16}, 0, 1), dy = TestInput({2, 8, 16}, 0, 2);
  auto step = [&] {
    layer->Forward(ctx, x, Mode::kTrain);
    layer->Backward(ctx, dy);
  };
  step();
  const uint64_t after_first = Graph::allocations();
  for (int i = 0; i < 3; ++i) step();
  EXPECT_EQ(Graph::allocations(), after_first);
  auto state = layer->NewDecodeState(2, 8);
  layer->Step(ctx, SliceTime(x, 0, 1), 0, state.get());
  const uint64_t after_first_step = Graph::allocations();
  for (int64_t pos = 1; pos < 8; ++pos) layer->Step(ctx, SliceTime(x, pos, pos + 1), pos, state.get());
  EXPECT_EQ(Graph::allocations(), after_first_step);
}

}  // namespace
}  // namespace tinylm::testing
