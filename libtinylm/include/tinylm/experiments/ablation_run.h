// One ablation end to end, as `ablate SPEC` runs it: prepare and validate both arms, print what
// changes, the parameters and the compute; shape the arms (equal-FLOPs budgets, learning-rate
// sweeps); train every seed pair (cached runs are reused, so a baseline shared by several
// ablations trains once per seed), adding seeds sequentially when asked; time both arms; print
// the table and write report.md, summary.json and the plots to <output_dir>/<name>/.
#pragma once
#include <string>
#include <vector>

#include "tinylm/distributed/communicator.h"
#include "tinylm/experiments/rank_sweep.h"
#include "tinylm/experiments/report.h"
#include "tinylm/experiments/spec.h"

namespace tinylm {

struct AblationOptions {
  std::vector<Override> overrides;  // --set and the flags that map onto spec fields
  int64_t tokens = 0;               // > 0: every stage's token budget (--tokens)
  std::string data_dir;             // as given on the command line (ResolveDataDir applies)
  bool dry_run = false, resume = false;
  int speed_rounds = 6;             // alternating timing rounds per arm; 0: no speed comparison
  std::string flags;                // the command line's flags, for report.md's "Reproduce:" line
  // Under mpirun (both null without it): every rank calls RunAblation with the same arguments and
  // either each run is trained by all ranks together (data_parallel: training/data_parallel.h,
  // one run at a time) or the runs are spread over the ranks (sweep: experiments/rank_sweep.h).
  // One rank writes the report; the others return after training.
  Communicator* data_parallel = nullptr;
  RankSweep* sweep = nullptr;
};

// Throws SpecError (file:line:col: field: reason) before anything is trained when the spec is
// bad. On a dry run, returns after printing, with no runs.
Comparison RunAblation(const std::string& spec_path, const AblationOptions& o);

// Whether this process writes reports: always without MPI; under mpirun rank 0, or in a sweep
// the lowest rank still alive.
bool WritesReports(const AblationOptions& o);

}  // namespace tinylm
