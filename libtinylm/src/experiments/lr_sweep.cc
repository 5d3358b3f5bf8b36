#include "tinylm/experiments/lr_sweep.h"

#include <absl/strings/str_format.h>

#include <cmath>

namespace tinylm {

std::vector<double> LearningRateGrid(const proto::LrSweepSpec& s) {
  std::vector<double> grid;
  const double lo = std::log(s.min_lr()), hi = std::log(s.max_lr());
  for (int i = 0; i < s.points(); ++i)
    grid.push_back(s.points() == 1 ? s.min_lr() : std::exp(lo + (hi - lo) * i / (s.points() - 1)));
  return grid;
}

Experiment AtLearningRate(const Experiment& e, double lr) {
  const double factor = lr / e.stages[0].spec.optimizer().lr();
  return WithStageSettings(e, [&](int i, proto::StageSpec* st) {
    // Stage 0 exactly at the grid's rate; the others keep their ratio to it.
    const double rate = i == 0 ? lr : st->optimizer().lr() * factor;
    st->mutable_optimizer()->set_lr(static_cast<float>(rate));
  });
}

int BestRun(const std::vector<proto::RunSummary>& runs) {
  int best = -1;
  for (int i = 0; i < static_cast<int>(runs.size()); ++i) {
    const auto& r = runs[i];
    if (r.has_divergence() || r.has_lost() || !std::isfinite(r.val_loss())) continue;
    if (best < 0 || r.val_loss() < runs[best].val_loss()) best = i;
  }
  return best;
}

Comparison::LrSweep::Arm SweepLearningRate(const Experiment& arm, const std::vector<double>& grid, uint64_t seed,
                                           const TrainAllFn& train_all, Experiment* chosen) {
  Comparison::LrSweep::Arm out;
  std::vector<Experiment> at_rates;
  for (double lr : grid) at_rates.push_back(AtLearningRate(arm, lr));
  std::vector<RunRequest> requests;
  for (size_t i = 0; i < grid.size(); ++i)
    requests.push_back({&at_rates[i], seed, absl::StrFormat("[%s lr %.3g seed %d]", arm.role, grid[i], seed)});
  out.runs = train_all(requests);
  const int best = BestRun(out.runs);
  out.all_diverged = best < 0;
  out.chosen_lr = out.all_diverged ? arm.stages[0].spec.optimizer().lr() : grid[best];
  *chosen = out.all_diverged ? arm : AtLearningRate(arm, out.chosen_lr);
  return out;
}

}  // namespace tinylm
