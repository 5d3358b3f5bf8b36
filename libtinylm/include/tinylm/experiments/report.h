// Comparing baseline and variant runs: statistics over seeds, the text table, report.md, the
// SVG learning curves, and summary.json.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "results.pb.h"
#include "tinylm/experiments/sequential.h"
#include "tinylm/experiments/statistics.h"

namespace tinylm {

struct Comparison {
  std::string name, description;
  std::string output_dir;  // the spec's: results live in <output_dir>/<name>/ and <output_dir>/runs/
  std::string base;  // the baseline's spec file as the variant's `base:` names it; empty: single
  std::vector<std::string> changes;  // "path: old -> new"
  std::string baseline_spec, variant_spec;  // each arm's resolved spec text
  std::string baseline_params, variant_params;  // per-layer tables
  std::vector<proto::RunSummary> baseline, variant;  // same seed order; baseline empty = single
  // False when the tokenizer changes: per-token loss and accuracy are then not comparable
  // (the table says so and labels only bits per byte).
  bool same_tokenizer = true;
  std::string compute;  // markdown table of FLOPs per token (experiments/compute.h), or empty
  std::string speed;    // markdown table of the speed comparison (experiments/speed.h), or empty
  // Set when seeds were added sequentially: the row of `metric` then shows the design's
  // repeated 95% interval, and its verdict says why the seeds stopped.
  struct Sequential {
    std::string metric;
    SequentialDesign design;
    double resolution = 0;
    std::vector<SequentialLook> looks;  // every look taken, in order
  };
  std::optional<Sequential> sequential;
  // Set when each arm picked its learning rate by a sweep (experiments/lr_sweep.h).
  struct LrSweep {
    uint64_t seed = 0;
    std::vector<double> grid;
    struct Arm {
      std::vector<proto::RunSummary> runs;  // one per grid rate, in grid order
      double chosen_lr = 0;
      bool all_diverged = false;  // then the arm keeps its spec's rate
    };
    Arm baseline, variant;
  };
  std::optional<LrSweep> lr_sweep;
  bool equal_flops = false;  // the variant's budgets were scaled to the baseline's training FLOPs
  // Each arm's training FLOPs per stage, for curves against compute (experiments/compute.h).
  struct StageFlops {
    int64_t tokens = 0;  // the stage's training tokens
    double per_token = 0;
  };
  std::vector<StageFlops> baseline_flops, variant_flops;
  // Runs of a sweep spread over MPI ranks that have no result (RunSummary.lost): one line each,
  // naming the run and why; their seeds are left out of both arms.
  std::vector<std::string> lost;
};

// Training FLOPs spent by the time a run has seen `tokens` (cumulative over its stages).
double FlopsAtTokens(const std::vector<Comparison::StageFlops>& stages, double tokens);

// Paired differences variant - baseline of a table row ("val bits/byte", an evaluator's metric)
// over the seeds where neither arm diverged. Throws std::invalid_argument naming the row when no
// run has such a metric.
std::vector<double> PairedDifferences(const Comparison& c, const std::string& metric);
// How a table row reads: its decimals and direction; false when no row has that name.
bool DescribeMetric(const Comparison& c, const std::string& metric, int* decimals, bool* lower_is_better);
// The rows that can decide a sequential comparison before any run: the built-in metrics with a
// direction (evaluator metrics are known once runs report them).
std::vector<std::string> BuiltinDecidingMetrics();

// The sequential note under the table: seeds run, why they stopped, what the interval means.
std::string SequentialNote(const Comparison& c);

// One line per diverged run: arm, seed, step, stage, reason and layer (training/divergence.h).
// Diverged runs are left out of every statistic (a paired comparison leaves out the seed).
std::vector<std::string> DivergenceNotes(const Comparison& c);

// One line per run whose final embedding spread says its embedding collapsed
// (evaluation/embedding_spread.h), naming arm and seed; shown under the table and in report.md.
std::vector<std::string> CollapseWarnings(const Comparison& c);

// How the table's statistics and verdicts are computed (under the table in every report).
extern const char kComparisonMethod[];
// The note under the table when the variant's budgets were scaled to equal FLOPs.
extern const char kEqualFlopsNote[];
// The note under the table when the arms' tokenizers differ.
extern const char kTokenizersDifferNote[];

// The table's rows: a header, then [metric, baseline, variant, difference [95% CI], verdict] (for
// a single experiment [metric, mean ± sd]); diverged runs left out (DivergenceNotes lists them).
std::vector<std::vector<std::string>> ComparisonRows(const Comparison& c);
// The table printed by ablate.
std::string ComparisonTable(const Comparison& c);
// Learning curves (training loss thin, validation loss thick) of every run, against tokens seen
// or training FLOPs spent (each arm's own FLOPs per token, stage by stage).
enum class CurveAxis { kTokens, kFlops };
std::string CurvesSvg(const Comparison& c, CurveAxis axis = CurveAxis::kTokens);
// The learning-rate sweep: a table of final validation loss per rate and arm, the chosen rates
// marked, with a warning when a chosen rate is at the grid's edge; and its plot. Empty without
// a sweep.
std::string LrSweepTable(const Comparison& c);
std::string LrSweepSvg(const Comparison& c);
// report.md: what changed, parameters, the table, samples, how to reproduce.
std::string ReportMarkdown(const Comparison& c, const std::string& command);
// Machine-readable summary of the comparison.
std::string SummaryJson(const Comparison& c);

}  // namespace tinylm
