// The compute each arm of an ablation spends: FLOPs per token (forward and training) at every
// stage's sequence length, and the stage's total, so that equal-compute comparisons are
// possible. Printed by `ablate` (also with --dry-run) and written into report.md.
#pragma once
#include <string>
#include <vector>

#include "tinylm/experiments/experiment.h"

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

}  // namespace tinylm
