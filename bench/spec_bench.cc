// Google Benchmark over experiment specs: for each spec, a full training step at the spec's
// shapes on its real data, an evaluation forward, batch-1 generation, and the forward and
// backward of every distinct part of the built model (so a plugin's layer gets benchmarks for
// free). Counters: tokens/s, GFLOP/s (from every layer's FLOP count), share of the machine's
// matmul throughput (measured once at start), peak resident memory of the benchmark, params.
//
//   ./build/bench/tinylm_spec_bench                         every spec in ablations/
//   ./build/bench/tinylm_spec_bench ablations/transformer_1m.pbtxt --benchmark_filter=train
//   ./build/bench/tinylm_spec_bench --compare=ablations/qknorm_off.pbtxt [--repetitions=10]
//   ... --benchmark_out=speed.json --benchmark_out_format=json   (Google Benchmark's JSON)
//   ... --set=runtime.precision=BF16                             (any spec field, as ablate --set)
//
// --compare benchmarks the baseline and the variant of one ablation spec in one run, the
// repetitions randomly interleaved, and ends with a table of each figure's medians, their
// ratio and a Mann-Whitney U test (experiments/speed.h), as `ablate` does in its report.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "machine.h"
#include "tinylm/model/packed.h"
#include "tinylm/experiments/speed.h"
#include "tinylm/tensors/thread_policy.h"

namespace tinylm::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double g_matmul_peak = 0;  // GFLOP/s
// Compare mode: per benchmark name, the tokens/s of each repetition (RecordingReporter).
std::map<std::string, std::vector<double>> g_samples;

struct Arm {
  std::string label;  // benchmark name prefix: spec name, or "spec:baseline"
  std::unique_ptr<Experiment> experiment;
};
std::vector<Arm> g_arms;  // alive while benchmarks run

// Counters of a benchmark that processed `tokens` and `flops` per iteration in `seconds` of
// timed work in all; `rss_before` is the resident memory (MB) when it started.
void SetCounters(benchmark::State& st, double tokens, double flops, double seconds, double rss_before) {
  const double it = static_cast<double>(st.iterations());
  st.counters["tokens/s"] = tokens * it / seconds;
  st.counters["GFLOP/s"] = flops * it / seconds / 1e9;
  st.counters["matmul_peak_%"] = 100.0 * flops * it / seconds / 1e9 / g_matmul_peak;
  st.counters["peak_RSS_MB"] = PeakRssMb();
  st.counters["RSS_growth_MB"] = PeakRssMb() - rss_before;
}

// The console output, recording each finished repetition's tokens/s for --compare (the
// benchmark function itself also runs for Google Benchmark's iteration-count trials).
class RecordingReporter : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      auto it = r.counters.find("tokens/s");
      if (r.run_type == Run::RT_Iteration && !r.error_occurred && it != r.counters.end())
        g_samples[r.run_name.function_name].push_back(it->second.value);
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Resets the peak-RSS record and returns the resident memory now (MB).
double StartMemory() {
  ResetPeakRss();
  return PeakRssMb();
}

Context MakeContext(const Experiment& e) { return Context(e.spec.runtime().threads(), 1); }

// A whole training step (train = true) or an evaluation forward at a stage's shapes.
void Step(benchmark::State& st, const Experiment* e, int stage, bool train) {
  const double rss = StartMemory();
  Context ctx = MakeContext(*e);
  ctx.pool().ResetPeak();
  SpeedProbe p(*e, stage);
  auto once = [&] { train ? p.TrainStep(ctx) : p.EvalForward(ctx); };
  once();  // warm-up: primitives, first touch
  const auto t0 = Clock::now();
  for (auto _ : st) once();
  SetCounters(st, static_cast<double>(p.tokens_per_step()), train ? p.flops().training : p.flops().forward,
              Seconds(t0), rss);
  st.counters["params"] = static_cast<double>(p.model().NumParams());
  // Activations and gradients at once (the context's TensorPool), apart from the process.
  st.counters["pool_peak_MB"] = static_cast<double>(ctx.pool().peak_bytes_in_use()) / 1e6;
}

// Batch-1 generation of up to 255 tokens from a one-token prompt (decode state, one thread).
// packed: the same weights written to a packed model file (tinylm-export --packed) and run
// from it (BitLinear: int8 activations x ternary weights).
void Generate(benchmark::State& st, const Experiment* e, bool packed) {
  const double rss = StartMemory();
  Context ctx = MakeContext(*e);
  SpeedProbe p(*e, 0);
  const int64_t n = std::min<int64_t>(255, p.model().context() - 1);
  double flops_per_token = 0;
  {
    OmpThreadsScope one(1);
    Context counting(1, 1);
    // Per id: a grouped tokenizer (byte pooling) generates whole chunks of g ids per position.
    flops_per_token = CountModelFlops(counting, p.model(), 1, (n + 1) * e->tokenizer->group_size()).forward_per_token();
  }
  PackedModelFile file;
  if (packed) {
    const std::string path = (fs::temp_directory_path() / ("tinylm_spec_bench_" + std::to_string(::getpid()) + ".tlmp")).string();
    WritePackedModel(path, p.model(), e->spec_text, e->tokenizer->Save());
    file = LoadPackedModel(path);
    fs::remove(path);
  }
  LanguageModel* other = packed ? file.model.get() : nullptr;
  p.Generate(ctx, 8, other);
  int64_t generated = 0;
  const auto t0 = Clock::now();
  for (auto _ : st) generated += p.Generate(ctx, n, other);
  const double secs = Seconds(t0);
  const double per_iter = static_cast<double>(generated) / std::max<double>(1, st.iterations());
  SetCounters(st, per_iter, per_iter * flops_per_token, secs, rss);
}

// Forward (or backward, after an untimed forward) of part `index` of the model on the input it
// sees in the model: the real batch through the parts before it.
void Part(benchmark::State& st, const Experiment* e, int stage, size_t index, bool backward) {
  const double rss = StartMemory();
  Context ctx = MakeContext(*e);
  SpeedProbe p(*e, stage);
  const auto& layers = p.model().net().layers();
  Tensor x = p.inputs();
  for (size_t i = 0; i < index; ++i) x = layers[i]->Forward(ctx, x, Mode::kTrain).Clone();
  Layer& layer = *layers[index];
  const Tensor y = layer.Forward(ctx, x, Mode::kTrain);
  Tensor dy = Tensor::Empty(y.shape());
  dy.Fill(1e-3f);
  layer.Backward(ctx, dy);  // warm
  const double flops = layer.ForwardFlops() * (backward ? 2.0 : 1.0);
  double secs = 0;  // timed work only (not the untimed forwards before backwards)
  for (auto _ : st) {
    if (backward) {
      st.PauseTiming();
      layer.Forward(ctx, x, Mode::kTrain);
      st.ResumeTiming();
      const auto t0 = Clock::now();
      benchmark::DoNotOptimize(layer.Backward(ctx, dy));
      secs += Seconds(t0);
    } else {
      const auto t0 = Clock::now();
      benchmark::DoNotOptimize(layer.Forward(ctx, x, Mode::kTrain));
      secs += Seconds(t0);
    }
  }
  SetCounters(st, static_cast<double>(p.tokens_per_step()), flops, secs, rss);
}

std::string Sanitize(std::string s) {
  for (char& c : s)
    if (c == ' ' || c == ',') c = '_';
  return s;
}

// Benchmarks of one arm: per distinct stage shape a training step, an evaluation forward and
// (unless `parts` is false) the forward and backward of every distinct part of the model at
// that shape; and one batch-1 generation.
void RegisterArm(const Arm& arm, bool parts, int repetitions) {
  const Experiment* e = arm.experiment.get();
  std::vector<benchmark::internal::Benchmark*> all;
  std::set<std::pair<int64_t, int64_t>> shapes;
  const auto model = parts ? e->BuildModel() : nullptr;
  for (size_t s = 0; s < e->stages.size(); ++s) {
    const auto& sp = e->stages[s].spec;
    if (!shapes.insert({sp.batch_size(), sp.seq_len()}).second) continue;
    const int stage = static_cast<int>(s);
    const std::string suffix = e->stages.size() > 1 ? ":" + sp.name() : "";
    const std::string train = arm.label + "/train_step" + suffix, eval = arm.label + "/eval_forward" + suffix;
    all.push_back(benchmark::RegisterBenchmark(train.c_str(), Step, e, stage, true));
    all.push_back(benchmark::RegisterBenchmark(eval.c_str(), Step, e, stage, false));
    if (!model) continue;
    std::set<std::string> seen;
    for (size_t i = 0; i < model->parts().size(); ++i) {
      const auto& part = model->parts()[i];
      if (!seen.insert(part.description).second) continue;  // the same layer again (blocks 1..n)
      const std::string base = arm.label + suffix + "/" + part.name + "=" + Sanitize(part.description);
      all.push_back(benchmark::RegisterBenchmark((base + "/forward").c_str(), Part, e, stage, i, false));
      all.push_back(benchmark::RegisterBenchmark((base + "/backward").c_str(), Part, e, stage, i, true));
    }
  }
  const std::string gen = arm.label + "/generate_batch1";
  all.push_back(benchmark::RegisterBenchmark(gen.c_str(), Generate, e, false));
  auto probe = e->BuildModel();
  probe->store().Allocate(1);
  if (HasPackedForm(*probe))  // layers with a packed inference form: run it too
    all.push_back(benchmark::RegisterBenchmark((gen + "_packed").c_str(), Generate, e, true));
  for (auto* b : all) {
    b->Unit(benchmark::kMillisecond)->UseRealTime();
    if (repetitions > 0) b->Repetitions(repetitions)->ReportAggregatesOnly(false);
  }
}

// The table of --compare: per figure, medians of the repetitions and the U test.
void PrintComparison(const std::string& name) {
  std::printf("\n%s: variant against baseline (tokens/s per repetition)\n", name.c_str());
  std::printf("%-22s %12s %12s %9s %9s  %s\n", "figure", "baseline", "variant", "ratio", "p", "verdict");
  for (const char* fig : {"train_step", "eval_forward", "generate_batch1"}) {
    for (const auto& [key, base] : g_samples) {
      const std::string prefix = name + ":baseline/" + fig;
      if (key.rfind(prefix, 0) != 0) continue;
      const std::string vkey = name + ":variant/" + key.substr((name + ":baseline/").size());
      auto it = g_samples.find(vkey);
      if (it == g_samples.end()) continue;
      SpeedFigure f{key.substr((name + ":baseline/").size()), "tokens/s", base, it->second};
      const double p = f.p();
      std::printf("%-22s %12.0f %12.0f %8.3fx %9.3g  %s\n", f.name.c_str(), Median(f.baseline), Median(f.variant),
                  f.ratio(), p, p >= 0.05 ? "no detectable difference" : f.ratio() > 1 ? "faster" : "slower");
    }
  }
}

int Main(int argc, char** argv) {
  // Compare mode interleaves repetitions of both arms randomly (machine drift hits both).
  std::vector<char*> args(argv, argv + argc);
  bool compare_mode = false, interleave_given = false, tabular = false;
  for (int i = 1; i < argc; ++i) {
    compare_mode |= std::string(argv[i]).rfind("--compare=", 0) == 0;
    tabular |= std::string(argv[i]) == "--benchmark_counters_tabular=true";
    interleave_given |= std::string(argv[i]).rfind("--benchmark_enable_random_interleaving", 0) == 0;
  }
  static char interleave[] = "--benchmark_enable_random_interleaving=true";
  if (compare_mode && !interleave_given) args.push_back(interleave);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());

  std::string data_dir, compare;
  int repetitions = 0;
  bool parts = true;
  std::vector<std::string> specs;
  std::vector<Override> overrides;
  for (int i = 1; i < n; ++i) {
    const std::string a = args[i];
    auto value = [&](const char* flag) { return a.substr(std::string(flag).size()); };
    if (a.rfind("--data-dir=", 0) == 0) data_dir = value("--data-dir=");
    else if (a.rfind("--compare=", 0) == 0) compare = value("--compare=");
    else if (a.rfind("--repetitions=", 0) == 0) repetitions = std::stoi(value("--repetitions="));
    else if (a == "--no-parts") parts = false;
    else if (a.rfind("--set=", 0) == 0) {
      const std::string kv = value("--set=");
      const size_t eq = kv.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "tinylm_spec_bench: --set=%s: expected path=value\n", kv.c_str());
        return 2;
      }
      overrides.push_back({kv.substr(0, eq), kv.substr(eq + 1)});
    }
    else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "tinylm_spec_bench: unknown flag %s (own flags: --data-dir=, --compare=, --repetitions=, "
                           "--no-parts, --set=path=value; and Google Benchmark's --benchmark_*)\n", a.c_str());
      return 2;
    } else specs.push_back(a);
  }
  try {
    const std::string dir = ResolveDataDir(data_dir);
    if (!compare.empty()) {
      const ResolvedSpec rs = LoadSpec(compare, overrides);
      if (!rs.has_baseline()) throw SpecError(compare + ": --compare needs a spec with a base (baseline and variant)");
      const std::string name = rs.variant().name();
      g_arms.push_back({name + ":baseline", std::make_unique<Experiment>(PrepareExperiment(rs, true, dir))});
      g_arms.push_back({name + ":variant", std::make_unique<Experiment>(PrepareExperiment(rs, false, dir))});
      for (const Arm& a : g_arms) RegisterArm(a, false, repetitions > 0 ? repetitions : 10);
    } else {
      if (specs.empty())
        for (const auto& f : fs::directory_iterator(fs::path(TINYLM_SOURCE_DIR) / "ablations"))
          if (f.path().extension() == ".pbtxt") specs.push_back(f.path().string());
      std::sort(specs.begin(), specs.end());
      // Specs that differ only in training settings build the same model: benchmark it once.
      std::set<std::string> seen;
      for (const std::string& path : specs) {
        const ResolvedSpec rs = LoadSpec(path, overrides);
        const proto::ExperimentSpec& v = rs.variant();
        std::string key = v.model().SerializeAsString() + v.tokenizer().SerializeAsString();
        for (const auto& st : v.stages()) key += std::to_string(st.batch_size()) + "x" + std::to_string(st.seq_len());
        if (!seen.insert(key).second) continue;
        g_arms.push_back({v.name(), std::make_unique<Experiment>(PrepareExperiment(rs, false, dir))});
        RegisterArm(g_arms.back(), parts, repetitions);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tinylm_spec_bench: %s\n", e.what());
    return 1;
  }
  {
    Context ctx(0, 1);
    g_matmul_peak = MeasureMatmulPeakGflops(ctx);
  }
  benchmark::AddCustomContext("matmul_peak_GFLOP/s", std::to_string(g_matmul_peak));
  std::printf("measured fp32 matmul throughput: %.0f GFLOP/s (peak%% counters are shares of it)\n", g_matmul_peak);
  const int color = isatty(fileno(stdout)) ? benchmark::ConsoleReporter::OO_Color : 0;
  RecordingReporter reporter(static_cast<benchmark::ConsoleReporter::OutputOptions>(
      color | (tabular ? benchmark::ConsoleReporter::OO_Tabular : 0)));
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  if (!compare.empty()) PrintComparison(LoadSpec(compare).variant().name());
  return 0;
}

}  // namespace
}  // namespace tinylm::bench

int main(int argc, char** argv) {
  tinylm::ApplyThreadWaitPolicy(argv);
  return tinylm::bench::Main(argc, argv);
}
