// Graph layers against the hand-written ones they re-express: one full training step of the
// seed system's spec (B 32 x T 256) and the layer's forward + backward, graph: false / true.
//   ./build/bench/tinylm_bench --benchmark_filter=Graph --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <google/protobuf/text_format.h>

#include "tinylm/model/model.h"
#include "tinylm/plugins/plugin_manager.h"
#include "tinylm/tensors/rng.h"
#include "tinylm/experiments/spec.h"

namespace tinylm {
namespace {

constexpr int64_t kBatch = 32, kTime = 256;

struct Subject {
  const char* spec;       // ablations/<spec>
  const char* extension;  // the layer that has a graph version
};
const Subject kSubjects[] = {{"micromixer_1m.pbtxt", "[tinylm.plugins.hypermixing] {"},
                             {"delta_option_c.pbtxt", "[tinylm.plugins.delta_block] {"}};

// The spec's model, with `graph: true` in every config of the subject's layer when asked.
proto::ModelSpec ModelOf(const Subject& s, bool graph) {
  const ResolvedSpec rs = LoadSpec(std::string(TINYLM_SOURCE_DIR) + "/ablations/" + s.spec);
  for (const auto& p : rs.variant().plugins()) PluginManager::Global().Load(p);
  std::string text = SpecToText(rs.variant().model());
  const std::string open = s.extension;
  for (size_t at = 0; graph && (at = text.find(open, at)) != std::string::npos; at += open.size())
    text.insert(at + open.size(), " graph: true ");
  proto::ModelSpec m;
  if (!google::protobuf::TextFormat::ParseFromString(text, &m)) throw std::runtime_error("bad spec text");
  return m;
}

Tensor Ids() {
  Tensor t = Tensor::Empty({kBatch, kTime}, DType::kS32);
  for (int64_t i = 0; i < t.numel(); ++i) t.s32()[i] = static_cast<int32_t>(CounterBits(3, 4, i) % 256);
  return t;
}

void BM_GraphVsHand_TrainStep(benchmark::State& state) {
  const Subject& s = kSubjects[state.range(0)];
  static Context ctx(0, 1);
  auto model = BuildModel(ModelOf(s, state.range(1) != 0), 256);
  model->store().Allocate(1);
  AdamW opt;
  const Tensor ids = Ids();
  Batch b{ids, ids, Tensor()};
  TrainStep(ctx, *model, opt, b, 1e-3f, 1.0);  // warm-up: primitives and buffers
  for (auto _ : state) benchmark::DoNotOptimize(TrainStep(ctx, *model, opt, b, 1e-3f, 1.0).loss);
  state.SetLabel(std::string(s.spec) + (state.range(1) ? " graph" : " hand-written"));
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(kBatch * kTime) * state.iterations(),
                                                  benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GraphVsHand_TrainStep)
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->ArgNames({"spec", "graph"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(3.0);

// Forward + backward of the subject layer alone at the spec's width.
void BM_GraphVsHand_Layer(benchmark::State& state) {
  const Subject& s = kSubjects[state.range(0)];
  static Context ctx(0, 1);
  const proto::ModelSpec m = ModelOf(s, state.range(1) != 0);
  const proto::LayerSpec* spec = nullptr;
  for (const auto& l : m.block().layer()) {
    if (SpecToText(l).find(std::string(s.extension).substr(0, 20)) == std::string::npos) continue;
    spec = l.has_residual() ? &l.residual().mixer() : &l;
    break;
  }
  if (!spec) throw std::runtime_error("no subject layer in the spec");
  ParamStore store;
  LayerPtr layer = BuildLayer(*spec, {&store, m.d_model(), m.context(), "blk", "blk", 0.02f});
  store.Allocate(1);
  Tensor x = Tensor::Empty({kBatch, kTime, m.d_model()});
  for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = CounterUniform(1, 1, i) - 0.5f;
  const Tensor dy = x.Clone();
  layer->Forward(ctx, x, Mode::kTrain);
  layer->Backward(ctx, dy);
  for (auto _ : state) {
    layer->Forward(ctx, x, Mode::kTrain);
    benchmark::DoNotOptimize(layer->Backward(ctx, dy));
  }
  state.SetLabel(std::string(s.spec) + (state.range(1) ? " graph" : " hand-written"));
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(kBatch * kTime) * state.iterations(),
                                                  benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GraphVsHand_Layer)
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->ArgNames({"spec", "graph"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

}  // namespace
}  // namespace tinylm
