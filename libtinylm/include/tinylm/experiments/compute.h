// The compute each arm of an ablation spends: FLOPs per token (forward and training) at every
// stage's sequence length, and the stage's total, so that equal-compute comparisons are
// possible. Printed by `ablate` (also with --dry-run) and written into report.md.
#pragma once
#include <string>
#include <vector>

#include "results.pb.h"
#include "tinylm/experiments/experiment.h"
#include "tinylm/experiments/report.h"

namespace tinylm {

struct StageCompute {
  std::string stage;
  int64_t seq_len = 0, tokens = 0;
  double forward_per_token = 0, training_per_token = 0;
  double total() const { return training_per_token * static_cast<double>(tokens); }
};

// One entry per stage of `e`, counted on a freshly built model at batch 1 (single-threaded).
std::vector<StageCompute> ComputeOf(const Experiment& e);

// A markdown table; baseline may be null (a single-arm spec).
std::string ComputeTable(const std::vector<StageCompute>* baseline, const std::vector<StageCompute>& variant);

// Equal compute: `variant` with every stage's token budget scaled so that the stage costs it the
// training FLOPs the baseline's stage costs the baseline. Throws SpecError when the arms have
// different numbers of stages.
Experiment AtBaselineFlops(const Experiment& variant, const std::vector<StageCompute>& baseline,
                           const std::vector<StageCompute>& variant_compute);

// Each stage's training tokens and FLOPs per token, for curves against compute.
std::vector<Comparison::StageFlops> StageFlopsOf(const std::vector<StageCompute>& compute);

// Fills what a run cost and how it trained (not cached in the run): training FLOPs, their mean
// per training token, and the first stage's learning rate of `arm`.
void AnnotateRun(const Experiment& arm, const std::vector<StageCompute>& compute, proto::RunSummary* run);

}  // namespace tinylm
