// Speed of an experiment's model, measured the same way by the spec benchmarks
// (bench/spec_bench.cc, Google Benchmark) and by `ablate` (the speed section of report.md):
// a SpeedProbe runs the model at one stage's shapes on real batches of that stage; CompareSpeed
// times baseline and variant alternately and tests each figure with a Mann-Whitney U test.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tinylm/experiments/experiment.h"
#include "tinylm/model/flops.h"
#include "tinylm/training/optim.h"

namespace tinylm {

class SpeedProbe {
 public:
  // The model of `e` (parameters from `seed`) at stage `stage`'s batch and sequence length.
  SpeedProbe(const Experiment& e, int stage, uint64_t seed = 1);

  // One optimisation step (forward, loss, backward, clip, AdamW) on the stage's first batch (the
  // same batch every time: timing, not learning).
  void TrainStep(Context& ctx);
  // One evaluation forward of the same batch shape.
  void EvalForward(Context& ctx);
  // Batch-1 generation from a one-token prompt to `tokens` new tokens (<= context - 1);
  // returns the number generated.
  // `other`: the same generation with another model of this tokenizer (a packed copy).
  int64_t Generate(Context& ctx, int64_t tokens, LanguageModel* other = nullptr);

  LanguageModel& model() { return *model_; }
  // The stage's batch the probe trains on: int32 ids [batch, seq_len].
  const Tensor& inputs() const { return batch_data_.inputs; }
  int64_t batch() const { return batch_; }
  int64_t seq_len() const { return seq_; }
  int64_t tokens_per_step() const { return batch_ * seq_; }
  // FLOPs of one forward / one training step at the stage's shapes.
  const ModelFlops& flops() const { return flops_; }

 private:
  const Experiment& e_;
  const PreparedStage& stage_;
  std::unique_ptr<LanguageModel> model_;
  AdamW opt_;
  Batch batch_data_;
  bool bf16_;  // the spec's runtime precision, set on the context before each timed call
  uint64_t step_ = 0;
  int64_t batch_ = 0, seq_ = 0;
  ModelFlops flops_;
};

// Two-sided p-value of the Mann-Whitney U test that samples a and b come from the same
// distribution: exact (all arrangements) without ties and up to 30 samples each, else the
// normal approximation with tie and continuity corrections (as scipy's mannwhitneyu).
double MannWhitneyP(const std::vector<double>& a, const std::vector<double>& b);

double Median(std::vector<double> v);

// One figure of a speed comparison: samples (higher is faster) of both arms.
struct SpeedFigure {
  std::string name, unit;  // "train step", "tokens/s"
  std::vector<double> baseline, variant;
  double ratio() const { return Median(variant) / Median(baseline); }
  double p() const { return MannWhitneyP(baseline, variant); }
};

struct SpeedComparison {
  std::vector<SpeedFigure> figures;
  int rounds = 0;
};

// Times both arms at their first stage's shapes in `rounds` alternating rounds (baseline,
// variant, variant, baseline, ...: drifts of the machine's speed hit both alike); each round
// times `steps` training steps, as many evaluation forwards, and a batch-1 generation of
// `gen_tokens` tokens.
SpeedComparison CompareSpeed(Context& ctx, const Experiment& baseline, const Experiment& variant, int rounds,
                             int steps = 2, int64_t gen_tokens = 64);

// Markdown table: each figure's medians, variant/baseline ratio, p-value and verdict.
std::string SpeedTable(const SpeedComparison& c);

}  // namespace tinylm
