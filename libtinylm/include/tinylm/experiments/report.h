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
  std::vector<std::string> changes;  // "path: old -> new"
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
};

// Paired differences variant - baseline of a table row ("val bits/byte", an evaluator's metric)
// over the seeds where neither arm diverged. Throws std::invalid_argument naming the row when no
// run has such a metric.
std::vector<double> PairedDifferences(const Comparison& c, const std::string& metric);
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

// The table printed by ablate.
std::string ComparisonTable(const Comparison& c);
// Learning curves (training loss thin, validation loss thick) of every run, by tokens seen.
std::string CurvesSvg(const Comparison& c);
// report.md: what changed, parameters, the table, samples, how to reproduce.
std::string ReportMarkdown(const Comparison& c, const std::string& command);
// Machine-readable summary of the comparison.
std::string SummaryJson(const Comparison& c);

}  // namespace tinylm
