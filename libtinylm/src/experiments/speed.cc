#include "tinylm/experiments/speed.h"

#include <absl/strings/str_format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "tinylm/model/generate.h"

namespace tinylm {

SpeedProbe::SpeedProbe(const Experiment& e, int stage, uint64_t seed)
    : e_(e),
      stage_(e.stages.at(stage)),
      model_(e.BuildModel()),
      bf16_(e.spec.runtime().precision() == proto::RuntimeSpec::BF16) {
  model_->store().Allocate(seed);
  batch_ = stage_.spec.batch_size();
  seq_ = stage_.spec.seq_len();
  Tensor ones;
  DrawTrainingBatch(stage_, stage, seed, 0, &batch_data_, &ones);  // the first batch, as a run's
  // FLOPs at batch 1, times the batch: sequences are independent (the layer check holds every
  // layer to it), and one sequence is a cheap forward.
  OmpThreadsScope one_thread(1);
  Context counting(1, seed);
  flops_ = CountModelFlops(counting, *model_, 1, seq_);
  flops_.forward *= static_cast<double>(batch_);
  flops_.training *= static_cast<double>(batch_);
  flops_.tokens *= batch_;
}

void SpeedProbe::TrainStep(Context& ctx) {
  ctx.set_step(static_cast<int64_t>(step_));
  ctx.set_bf16_matmuls(bf16_);
  tinylm::TrainStep(ctx, *model_, opt_, batch_data_, 1e-4f, 1.0);
  ++step_;
}

void SpeedProbe::EvalForward(Context& ctx) {
  ctx.set_bf16_matmuls(bf16_);
  model_->Forward(ctx, batch_data_.inputs, Mode::kEval);
}

int64_t SpeedProbe::Generate(Context& ctx, int64_t tokens, LanguageModel* other) {
  SamplingOptions o;
  o.max_tokens = static_cast<int>(std::min<int64_t>(tokens, model_->context() - 1));
  o.stop_at_end_of_text = false;
  // One position of the training data: a token, or a grouped tokenizer's whole chunk.
  const std::vector<int32_t> prompt(batch_data_.inputs.s32(), batch_data_.inputs.s32() + e_.tokenizer->group_size());
  return static_cast<int64_t>(tinylm::Generate(ctx, other ? *other : *model_, *e_.tokenizer, prompt, o).size());
}

double Median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double MannWhitneyP(const std::vector<double>& a, const std::vector<double>& b) {
  const int64_t n = static_cast<int64_t>(a.size()), m = static_cast<int64_t>(b.size());
  if (n == 0 || m == 0) return 1.0;
  // U = pairs (i, j) with a_i > b_j, ties counting one half; ranks of the pooled samples.
  double u = 0;
  bool ties = false;
  for (double x : a)
    for (double y : b) {
      if (x > y) u += 1;
      else if (x == y) u += 0.5, ties = true;
    }
  std::vector<double> pooled(a);
  pooled.insert(pooled.end(), b.begin(), b.end());
  std::sort(pooled.begin(), pooled.end());
  for (size_t i = 1; i < pooled.size() && !ties; ++i) ties = pooled[i] == pooled[i - 1];
  const double mean = 0.5 * n * m;
  if (!ties && n <= 30 && m <= 30) {
    // count[k][u]: arrangements of k a's among the first samples with statistic u, built by the
    // classic recurrence over the largest pooled element (an a adds the b's below it).
    std::vector<std::vector<std::vector<double>>> f(n + 1, std::vector<std::vector<double>>(m + 1));
    for (int64_t i = 0; i <= n; ++i)
      for (int64_t j = 0; j <= m; ++j) {
        f[i][j].assign(i * j + 1, 0.0);
        if (i == 0 || j == 0) {
          f[i][j][0] = 1.0;
          continue;
        }
        for (int64_t k = 0; k <= i * j; ++k)
          f[i][j][k] = (k >= j ? f[i - 1][j][k - j] : 0.0) + (k <= (i) * (j - 1) ? f[i][j - 1][k] : 0.0);
      }
    const std::vector<double>& dist = f[n][m];
    double total = 0, below = 0, above = 0;
    for (size_t k = 0; k < dist.size(); ++k) {
      total += dist[k];
      if (k <= u) below += dist[k];
      if (k >= u) above += dist[k];
    }
    return std::min(1.0, 2.0 * std::min(below, above) / total);
  }
  // Normal approximation with tie correction.
  double tie_term = 0;
  for (size_t i = 0; i < pooled.size();) {
    size_t j = i;
    while (j < pooled.size() && pooled[j] == pooled[i]) ++j;
    const double t = static_cast<double>(j - i);
    tie_term += t * t * t - t;
    i = j;
  }
  const double nm = static_cast<double>(n + m);
  const double var = n * m / 12.0 * ((nm + 1) - tie_term / (nm * (nm - 1)));
  if (var <= 0) return 1.0;
  const double z = (std::fabs(u - mean) - 0.5) / std::sqrt(var);
  return std::min(1.0, std::erfc(std::max(z, 0.0) / std::sqrt(2.0)));
}

SpeedComparison CompareSpeed(Context& ctx, const Experiment& baseline, const Experiment& variant, int rounds,
                             int steps, int64_t gen_tokens) {
  SpeedProbe probes[2] = {SpeedProbe(baseline, 0), SpeedProbe(variant, 0)};
  SpeedComparison c;
  c.rounds = rounds;
  c.figures = {{"training step", "tokens/s", {}, {}},
               {"evaluation forward", "tokens/s", {}, {}},
               {"batch-1 generation", "tokens/s", {}, {}}};
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  for (SpeedProbe& p : probes) {  // warm-up: primitive caches, first-touch of buffers
    p.TrainStep(ctx);
    p.EvalForward(ctx);
    p.Generate(ctx, 4);
  }
  for (int r = 0; r < rounds; ++r) {
    for (int k = 0; k < 2; ++k) {
      const int arm = (r % 2 == 0) == (k == 0) ? 0 : 1;  // ABBA: baseline first on even rounds
      SpeedProbe& p = probes[arm];
      auto put = [&](int fig, double v) { (arm == 0 ? c.figures[fig].baseline : c.figures[fig].variant).push_back(v); };
      auto t0 = Clock::now();
      for (int s = 0; s < steps; ++s) p.TrainStep(ctx);
      put(0, steps * p.tokens_per_step() / seconds(t0));
      t0 = Clock::now();
      for (int s = 0; s < steps; ++s) p.EvalForward(ctx);
      put(1, steps * p.tokens_per_step() / seconds(t0));
      t0 = Clock::now();
      const int64_t n = p.Generate(ctx, gen_tokens);
      put(2, n / seconds(t0));
    }
  }
  return c;
}

namespace {
std::string Rate(double v) { return v >= 1e4 ? absl::StrFormat("%.1fk", v / 1e3) : absl::StrFormat("%.0f", v); }
}  // namespace

std::string SpeedTable(const SpeedComparison& c) {
  std::string s =
      "| figure | baseline | variant | variant / baseline | p (U test) | verdict |\n|---|---|---|---|---|---|\n";
  for (const SpeedFigure& f : c.figures) {
    const double p = f.p(), ratio = f.ratio();
    const char* verdict = p >= 0.05 ? "no detectable difference" : ratio > 1 ? "faster" : "slower";
    s += absl::StrFormat("| %s | %s %s | %s %s | %.3fx | %.3g | %s |\n", f.name, Rate(Median(f.baseline)), f.unit,
                         Rate(Median(f.variant)), f.unit, ratio, p, verdict);
  }
  s += absl::StrFormat(
      "\nMedians of %d alternating rounds per arm (ABBA order, so a drift of the machine's speed hits both arms "
      "alike); two-sided Mann-Whitney U test, verdict at p < 0.05. Speed is measured in this process, beside nothing "
      "else of tinylm's.\n",
      c.rounds);
  return s;
}

}  // namespace tinylm
