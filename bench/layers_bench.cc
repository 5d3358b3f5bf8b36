// Google Benchmark: forward and backward of every core layer at the shapes of the 1M model
// (B 32 x T 256, d 128), one full training step of the 1,006,976-parameter transformer, and its
// batch-1 generation through the decode state (KV cache).
//   ./build/bench/tinylm_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <functional>

#include "tinylm/layers/attention.h"
#include "tinylm/tensors/thread_policy.h"
#include "tinylm/layers/elementwise.h"
#include "tinylm/layers/embedding.h"
#include "tinylm/layers/layernorm.h"
#include "tinylm/layers/linear.h"
#include "tinylm/layers/mlp.h"
#include "tinylm/layers/rmsnorm.h"
#include "tinylm/model/generate.h"
#include "tinylm/model/model.h"
#include "tinylm/tensors/rng.h"

namespace tinylm {
namespace {

constexpr int64_t kB = 32, kT = 256, kD = 128;

Context& Ctx() {
  static Context ctx(0, 1);
  return ctx;
}

Tensor RandomInput(const Shape& s) {
  Tensor x = Tensor::Empty(s);
  for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = CounterUniform(1, 1, i) - 0.5f;
  return x;
}

// Times forward (backward=false) or forward+backward minus nothing (backward=true times only
// the backward, after one untimed forward per iteration).
void RunLayer(benchmark::State& state, const std::function<LayerPtr(ParamStore&)>& make, Tensor x,
              bool backward) {
  ParamStore store;
  LayerPtr layer = make(store);
  store.Allocate(1);
  Context& ctx = Ctx();
  const Tensor y = layer->Forward(ctx, x, Mode::kTrain);
  Tensor dy = RandomInput(y.shape());
  layer->Backward(ctx, dy);  // warm the primitive cache
  for (auto _ : state) {
    if (backward) {
      state.PauseTiming();
      layer->Forward(ctx, x, Mode::kTrain);
      state.ResumeTiming();
      Tensor dx = layer->Backward(ctx, dy);  // undefined for token ids
      benchmark::DoNotOptimize(dx);
    } else {
      Tensor y = layer->Forward(ctx, x, Mode::kTrain);
      benchmark::DoNotOptimize(y);
    }
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(kB * kT) * state.iterations(),
                                                  benchmark::Counter::kIsRate);
}

#define LAYER_BENCH(NAME, MAKE, INPUT)                                                        \
  void BM_##NAME##_Forward(benchmark::State& s) { RunLayer(s, MAKE, INPUT, false); }          \
  void BM_##NAME##_Backward(benchmark::State& s) { RunLayer(s, MAKE, INPUT, true); }          \
  BENCHMARK(BM_##NAME##_Forward)->Unit(benchmark::kMillisecond)->UseRealTime();               \
  BENCHMARK(BM_##NAME##_Backward)->Unit(benchmark::kMillisecond)->UseRealTime()

Tensor Ids() {
  Tensor ids = Tensor::Empty({kB, kT}, DType::kS32);
  for (int64_t i = 0; i < ids.numel(); ++i) ids.s32()[i] = static_cast<int32_t>(CounterBits(1, 2, i) % 256);
  return ids;
}

AttentionOptions Attn(bool qk) {
  AttentionOptions o;
  o.heads = 4;
  o.qk_norm = qk;
  return o;
}

LAYER_BENCH(Embedding, [](ParamStore& s) { return std::make_unique<Embedding>(s, "e", 256, kD); }, Ids());
LAYER_BENCH(Linear_128x384, [](ParamStore& s) { return std::make_unique<Linear>(s, "l", kD, 3 * kD, false); }, RandomInput({kB, kT, kD}));
LAYER_BENCH(Head_128x256, [](ParamStore& s) { return std::make_unique<Linear>(s, "l", kD, 256, false); }, RandomInput({kB, kT, kD}));
LAYER_BENCH(RmsNorm, [](ParamStore& s) { return std::make_unique<RmsNorm>(s, "n", kD); }, RandomInput({kB, kT, kD}));
LAYER_BENCH(LayerNorm, [](ParamStore& s) { return std::make_unique<LayerNorm>(s, "n", kD); }, RandomInput({kB, kT, kD}));
LAYER_BENCH(Attention, [](ParamStore& s) { return std::make_unique<Attention>(s, "a", kD, Attn(false)); }, RandomInput({kB, kT, kD}));
LAYER_BENCH(AttentionQkNorm, [](ParamStore& s) { return std::make_unique<Attention>(s, "a", kD, Attn(true)); }, RandomInput({kB, kT, kD}));
LAYER_BENCH(SwiGlu_336, [](ParamStore& s) { return std::make_unique<SwiGlu>(s, "m", kD, 336); }, RandomInput({kB, kT, kD}));
LAYER_BENCH(GeluMlp_512, [](ParamStore& s) { return std::make_unique<GeluMlp>(s, "m", kD, 512); }, RandomInput({kB, kT, kD}));
LAYER_BENCH(Silu, [](ParamStore&) { return Activation::Silu(); }, RandomInput({kB, kT, 336}));
LAYER_BENCH(Dropout, [](ParamStore&) { return std::make_unique<Dropout>("d", 0.1f); }, RandomInput({kB, kT, kD}));

// One optimisation step (forward, loss, backward, clip, AdamW) of the 1M transformer.
void BM_TrainStep_Transformer1M(benchmark::State& state) {
  proto::TransformerConfig c;
  c.set_tie_embeddings(true);
  c.set_qk_norm(state.range(0) != 0);
  auto model = BuildTransformer(c);
  model->store().Allocate(1);
  Context& ctx = Ctx();
  AdamW opt;
  Batch b{Ids(), Ids(), Tensor()};
  TrainStep(ctx, *model, opt, b, 1e-3f, 1.0);  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(TrainStep(ctx, *model, opt, b, 1e-3f, 1.0).loss);
  state.counters["params"] = static_cast<double>(model->NumParams());
  // Memory: the four parameter arenas (values, grads, Adam m and v), and the process's peak
  // resident set (activations, workspaces, oneDNN kernels; run this benchmark alone for a
  // clean figure: --benchmark_filter=TrainStep).
  state.counters["arenas_MB"] = 4.0 * 4 * model->store().size() / 1e6;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  state.counters["peak_rss_MB"] = ru.ru_maxrss / 1e3;
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(kB * kT) * state.iterations(),
                                                  benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TrainStep_Transformer1M)->Arg(0)->Arg(1)->ArgName("qk_norm")->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);

// Batch-1 generation with the 1M transformer: a one-token prompt, then 255 sampled tokens (the
// whole context), each one decode step through the KV cache.
void BM_Generate_Transformer1M(benchmark::State& state) {
  proto::TransformerConfig c;
  c.set_tie_embeddings(true);
  auto model = BuildTransformer(c);
  model->store().Allocate(1);
  const ByteTokenizer tok({});
  SamplingOptions opt;
  opt.max_tokens = static_cast<int>(kT) - 1;
  opt.stop_at_end_of_text = false;
  Context& ctx = Ctx();
  int64_t generated = 0;
  for (auto _ : state) {
    const std::vector<int32_t> out = Generate(ctx, *model, tok, {'T'}, opt);
    generated += static_cast<int64_t>(out.size());
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(generated), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Generate_Transformer1M)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);

}  // namespace
}  // namespace tinylm

// The benchmarks measure the tools' thread policy (tinylm/tensors/thread_policy.h).
int main(int argc, char** argv) {
  tinylm::ApplyThreadWaitPolicy(argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
