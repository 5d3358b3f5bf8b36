// Each arm at its own learning rate: an architecture that wants a different rate is misjudged
// when both arms share one. A sweep trains an arm once per rate of a log-spaced grid (on a seed
// of its own) and picks the rate with the lowest final validation loss; the arm's seeds then
// train at that rate. The grid sets the first stage's rate; later stages keep their ratio to it.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "results.pb.h"
#include "tinylm/experiments/experiment.h"
#include "tinylm/experiments/report.h"
#include "tinylm/experiments/run_pool.h"

namespace tinylm {

// min_lr, ..., max_lr, log-spaced, `points` of them (validated by PrepareExperiment).
std::vector<double> LearningRateGrid(const proto::LrSweepSpec& s);

// `e` with its first stage at learning rate `lr` and every other stage's rate scaled by the
// same factor.
Experiment AtLearningRate(const Experiment& e, double lr);

// The run with the lowest final validation loss among those that neither diverged nor were lost
// (their rank stopped); -1 when there is none.
int BestRun(const std::vector<proto::RunSummary>& runs);

// Sweeps `arm` over `grid` on `seed` through `train_all`; `*chosen` becomes the arm at the best
// rate (at its spec's own rate when every rate diverged).
Comparison::LrSweep::Arm SweepLearningRate(const Experiment& arm, const std::vector<double>& grid, uint64_t seed,
                                           const TrainAllFn& train_all, Experiment* chosen);

}  // namespace tinylm
