// One ablation end to end, as `ablate SPEC` runs it: prepare and validate both arms, print what
// changes, the parameters and the compute; shape the arms (equal-FLOPs budgets, learning-rate
// sweeps); train every seed pair (cached runs are reused, so a baseline shared by several
// ablations trains once per seed), adding seeds sequentially when asked; time both arms; print
// the table and write report.md, summary.json and the plots to <output_dir>/<name>/.
#pragma once
#include <string>
#include <vector>

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
};

// Throws SpecError (file:line:col: field: reason) before anything is trained when the spec is
// bad. On a dry run, returns after printing, with no runs.
Comparison RunAblation(const std::string& spec_path, const AblationOptions& o);

}  // namespace tinylm
