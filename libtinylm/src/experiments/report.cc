#include "tinylm/experiments/report.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_join.h>
#include <absl/strings/str_replace.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <set>

#include "tinylm/evaluation/embedding_spread.h"
#include "tinylm/experiments/line_plot.h"
#include "tinylm/experiments/table_format.h"

namespace tinylm {

namespace {

struct Metric {
  std::string name;
  std::function<double(const proto::RunSummary&)> get;
  int decimals;
  bool lower_is_better;
  bool per_token = false;  // meaningless across different tokenizers
  bool directional = true;  // false: a diagnostic, the difference is not labeled better or worse
  bool fixed = false;       // set by the arm's spec, not measured: no interval, no verdict
};

std::vector<Metric> Metrics(const Comparison& c) {
  auto any = [&](const std::function<bool(const proto::RunSummary&)>& has) {
    for (const auto* runs : {&c.baseline, &c.variant})
      for (const auto& r : *runs)
        if (has(r)) return true;
    return false;
  };
  std::vector<Metric> m = {
      {"parameters", [](const proto::RunSummary& r) { return static_cast<double>(r.params()); }, 0, true, false, true, true},
      {"tokens seen", [](const proto::RunSummary& r) { return static_cast<double>(r.tokens()); }, 0, true, false, true, true},
  };
  if (any([](const proto::RunSummary& r) { return r.has_training_flops_per_token(); }))
    m.push_back({"training FLOPs/token", [](const proto::RunSummary& r) { return r.training_flops_per_token(); }, 0, true,
                 false, true, true});
  if (c.lr_sweep)
    m.push_back({"learning rate", [](const proto::RunSummary& r) { return r.learning_rate(); }, -1, true, false, false, true});
  const std::vector<Metric> measured = {
      {"wall time (s)", [](const proto::RunSummary& r) { return r.wall_seconds(); }, 1, true},
      {"train tokens/s", [](const proto::RunSummary& r) { return r.train_tokens_per_sec(); }, 0, false},
      {"val loss (nats/token)", [](const proto::RunSummary& r) { return r.val_loss(); }, 4, true, true},
      {"val bits/byte", [](const proto::RunSummary& r) { return r.val_bpb(); }, 4, true},
      {"val accuracy", [](const proto::RunSummary& r) { return r.val_accuracy(); }, 4, false, true},
      {"sample repetition", [](const proto::RunSummary& r) { return r.repetition(); }, 3, true},
      {"embedding spread", [](const proto::RunSummary& r) { return r.embedding_spread(); }, 4, false, false, false},
  };
  m.insert(m.end(), measured.begin(), measured.end());
  // Evaluator metrics (plugins), in name order; direction guessed from the name for labels.
  std::set<std::string> extra;
  for (const auto* runs : {&c.baseline, &c.variant})
    for (const auto& r : *runs)
      for (const auto& [k, v] : r.extra_metrics()) extra.insert(k);
  for (const std::string& k : extra)
    m.push_back({k, [k](const proto::RunSummary& r) {
                   auto it = r.extra_metrics().find(k);
                   return it == r.extra_metrics().end() ? NAN : it->second;
                 },
                 4, k.find("accuracy") == std::string::npos});
  bool forgetting = false;
  for (const auto* runs : {&c.baseline, &c.variant})
    for (const auto& r : *runs) forgetting |= std::fabs(r.pretrain_val_bpb() - r.val_bpb()) > 1e-12;
  if (forgetting)
    m.push_back({"pretrain val bits/byte", [](const proto::RunSummary& r) { return r.pretrain_val_bpb(); }, 4, true});
  return m;
}

// The comparison without diverged runs: in a paired comparison a seed is left out of both arms
// when either arm diverged at it.
Comparison WithoutDiverged(const Comparison& c) {
  Comparison u = c;
  u.baseline.clear();
  u.variant.clear();
  for (size_t i = 0; i < c.variant.size(); ++i) {
    const bool base_ok = c.baseline.empty() || (i < c.baseline.size() && !c.baseline[i].has_divergence());
    if (base_ok && !c.variant[i].has_divergence()) {
      if (!c.baseline.empty()) u.baseline.push_back(c.baseline[i]);
      u.variant.push_back(c.variant[i]);
    }
  }
  return u;
}

std::vector<double> Values(const std::vector<proto::RunSummary>& runs, const Metric& m) {
  std::vector<double> v;
  for (const auto& r : runs) v.push_back(m.get(r));
  return v;
}

// Per-seed differences variant - baseline (runs paired by position).
std::vector<double> Differences(const Comparison& c, const Metric& m) {
  std::vector<double> d;
  for (size_t i = 0; i < std::min(c.baseline.size(), c.variant.size()); ++i) d.push_back(m.get(c.variant[i]) - m.get(c.baseline[i]));
  return d;
}

std::string Cell(const std::vector<proto::RunSummary>& runs, const Metric& m) {
  const Stats s = Summarize(Values(runs, m));
  if (s.n == 0) return "";
  if (s.n == 1 || ((m.decimals == 0 || m.fixed) && s.sd == 0)) return FormatNumber(s.mean, m.decimals);
  return FormatNumber(s.mean, m.decimals) + " ± " + FormatNumber(s.sd, m.decimals);
}

// The verdict on one metric's paired difference: better / worse when the 95% interval excludes
// 0, otherwise "no detectable difference"; with the smallest difference these seeds detect (power
// 0.8) and, when not significant, how many seeds the observed difference would need.
std::string Verdict(const Difference& d, const Metric& m, bool same_tokenizer) {
  if (m.per_token && !same_tokenizer) return "not comparable: tokenizers differ";
  if (d.half_width < 0) return "none: 1 seed";
  if (!m.directional) return "diagnostic";
  if (d.sd == 0 && d.mean == 0) return "identical in every seed";
  const std::string detectable = "detects ±" + FormatNumber(d.detectable, m.decimals);
  if (d.significant()) return ((d.mean < 0) == m.lower_is_better ? "better" : "worse") + std::string(" (") + detectable + ")";
  std::string need;
  if (d.seeds_needed > 0) need = absl::StrCat("; ", FormatSigned(d.mean, m.decimals), " needs ", d.seeds_needed, " seeds");
  else if (d.seeds_needed < 0) need = absl::StrCat("; ", FormatSigned(d.mean, m.decimals), " needs > ", kMaxSeeds, " seeds");
  return "no detectable difference (" + detectable + need + ")";
}

// The verdict on the row that decided a sequential comparison: its interval is the design's
// repeated interval, and it says why the seeds stopped instead of what more seeds would need.
std::string SequentialVerdict(const Comparison::Sequential& q, const SequentialLook& look, const Metric& m) {
  if (look.half_width < 0) return "none: fewer seeds than the first look";
  const std::string why = "sequential: " + StopReason(q.design, look, q.resolution);
  if (look.excludes_zero) return ((look.mean < 0) == m.lower_is_better ? "better (" : "worse (") + why + ")";
  return "no detectable difference (" + why + ")";
}

// One row's paired difference over the healthy seeds and its verdict; the row deciding a
// sequential comparison carries the design's repeated interval.
std::pair<Difference, std::string> Decide(const Comparison& all, const Comparison& healthy, const Metric& m) {
  Difference d = PairedDifference(Values(healthy.baseline, m), Values(healthy.variant, m));
  if (all.sequential && m.name == all.sequential->metric && (!m.per_token || healthy.same_tokenizer)) {
    const SequentialLook look = Look(all.sequential->design, Differences(healthy, m), all.sequential->resolution);
    d.half_width = look.half_width;
    return {d, SequentialVerdict(*all.sequential, look, m)};
  }
  return {d, Verdict(d, m, healthy.same_tokenizer)};
}

}  // namespace

std::vector<std::vector<std::string>> ComparisonRows(const Comparison& all) {
  const Comparison c = WithoutDiverged(all);
  std::vector<std::vector<std::string>> rows;
  const bool compare = !all.baseline.empty();
  // Each arm's column: its runs that did not diverge; the difference: the seeds where neither did.
  auto healthy = [](const std::vector<proto::RunSummary>& runs) {
    std::vector<proto::RunSummary> out;
    for (const auto& r : runs)
      if (!r.has_divergence()) out.push_back(r);
    return out;
  };
  const std::vector<proto::RunSummary> base_runs = healthy(all.baseline), variant_runs = healthy(all.variant);
  auto seeds = [](size_t n) { return absl::StrCat(n, n == 1 ? " seed" : " seeds"); };
  if (compare)
    rows.push_back({"metric", "baseline (" + seeds(base_runs.size()) + ")", "variant (" + seeds(variant_runs.size()) + ")",
                    "variant - baseline [95% CI" + (c.variant.size() == all.variant.size() ? "" : ", " + seeds(c.variant.size())) + "]",
                    "verdict (power 0.8)"});
  else
    rows.push_back({"metric", "mean ± sd (" + seeds(variant_runs.size()) + ")"});
  for (const Metric& m : Metrics(all)) {
    if (!compare) {
      rows.push_back({m.name, Cell(c.variant, m)});
      continue;
    }
    const auto [d, row_verdict] = Decide(all, c, m);
    std::string diff = FormatSigned(d.mean, m.decimals), verdict;
    if (c.variant.empty()) {
      diff = "n/a: every seed diverged";
    } else if (!m.fixed) {
      if (d.half_width >= 0)
        diff += " [" + FormatSigned(d.mean - d.half_width, m.decimals) + ", " + FormatSigned(d.mean + d.half_width, m.decimals) + "]";
      else
        diff += " [n/a: 1 seed]";
      verdict = row_verdict;
    }
    rows.push_back({m.name, Cell(base_runs, m), Cell(variant_runs, m), diff, verdict});
  }
  return rows;
}

namespace {

// One line per run for which `line(arm, run)` has something to say (empty: nothing), baseline
// runs first; the arm is "baseline", "variant", or "run" for a single experiment.
std::vector<std::string> NotesPerRun(const Comparison& c,
                                     const std::function<std::string(const std::string&, const proto::RunSummary&)>& line) {
  std::vector<std::string> out;
  for (const auto& r : c.baseline)
    if (std::string l = line("baseline", r); !l.empty()) out.push_back(std::move(l));
  for (const auto& r : c.variant)
    if (std::string l = line(c.baseline.empty() ? "run" : "variant", r); !l.empty()) out.push_back(std::move(l));
  return out;
}

}  // namespace

const char kComparisonMethod[] =
    "Means ± standard deviation over seeds; the difference is paired by seed with a 95% Student-t interval. The "
    "verdict is \"better\"/\"worse\" only when the interval excludes 0, otherwise \"no detectable difference\"; "
    "\"detects ±x\" is the smallest true difference these seeds find with probability 0.8 (two-sided paired t-test, "
    "alpha 0.05, from the observed spread of the differences), and \"needs N seeds\" how many seeds a true difference "
    "of the observed size would need. Validation loss and bits per byte are unweighted cross-entropy; bits per byte "
    "divide by the UTF-8 bytes of the text, so different tokenizers compare fairly.";

const char kTokenizersDifferNote[] = "per-token loss and accuracy are not comparable; compare bits per byte.";

const char kEqualFlopsNote[] =
    "Equal compute: the variant's token budgets were scaled so that each stage costs it the baseline's training FLOPs "
    "(tokens seen differ on purpose).";

std::vector<double> PairedDifferences(const Comparison& c, const std::string& metric) {
  for (const Metric& m : Metrics(c))
    if (m.name == metric) return Differences(WithoutDiverged(c), m);
  throw std::invalid_argument("no table row is named '" + metric + "'");
}

bool DescribeMetric(const Comparison& c, const std::string& metric, int* decimals, bool* lower_is_better) {
  for (const Metric& m : Metrics(c))
    if (m.name == metric) {
      *decimals = m.decimals;
      *lower_is_better = m.lower_is_better;
      return true;
    }
  return false;
}

std::vector<std::string> BuiltinDecidingMetrics() {
  std::vector<std::string> names;
  for (const Metric& m : Metrics(Comparison{}))
    if (m.directional && !m.fixed) names.push_back(m.name);
  return names;
}

std::string SequentialNote(const Comparison& c) {
  if (!c.sequential) return "";
  const Comparison::Sequential& q = *c.sequential;
  const SequentialDesign& d = q.design;
  std::string looks;
  for (const SequentialLook& l : q.looks)
    absl::StrAppend(&looks, looks.empty() ? "" : ", ", l.n, ": ",
                    l.half_width < 0 ? "no interval" : absl::StrFormat("%+.4g ± %.4g", l.mean, l.half_width));
  const SequentialLook last = q.looks.empty() ? SequentialLook{} : q.looks.back();
  return absl::StrFormat(
      "Sequential seeds on %s: %d of at most %d seed pairs; stopped because %s. Its interval is a repeated "
      "%g%% interval (alpha %g spent as %g·(n/%d)^%g over looks at %d..%d seeds), valid wherever the seeds "
      "stopped; the other rows' intervals are not adjusted for the stopping. Looks (seeds: difference ± "
      "half-width): %s.",
      q.metric, static_cast<int>(c.variant.size()), d.max_n, StopReason(d, last, q.resolution), 100 * (1 - d.alpha),
      d.alpha, d.alpha, d.max_n, d.rho, d.first_n, d.max_n, looks);
}

std::vector<std::string> DivergenceNotes(const Comparison& c) {
  return NotesPerRun(c, [](const std::string& arm, const proto::RunSummary& r) -> std::string {
    if (!r.has_divergence()) return "";
    const proto::Divergence& d = r.divergence();
    return absl::StrFormat("%s seed %d diverged at step %d (%s): %s%s", arm, r.seed(), d.step(), d.stage(), d.reason(),
                           d.layer().empty() ? "" : " of " + d.layer());
  });
}

std::vector<std::string> CollapseWarnings(const Comparison& c) {
  return NotesPerRun(c, [](const std::string& arm, const proto::RunSummary& r) -> std::string {
    if (!r.has_embedding_spread() || r.embedding_spread() >= kCollapsedEmbeddingSpread) return "";
    return absl::StrFormat(
        "%s seed %d: the embedding's output hardly depends on the input (embedding spread %.2g < %g): the model "
        "learned per-position marginals, not the text; its loss and accuracy say nothing about the design.",
        arm, r.seed(), r.embedding_spread(), kCollapsedEmbeddingSpread);
  });
}

std::string ComparisonTable(const Comparison& c) {
  const std::string note = c.same_tokenizer ? "" : std::string("Tokenizers differ: ") + kTokenizersDifferNote + "\n";
  std::string out = TextTable(ComparisonRows(c));
  for (const std::string& w : CollapseWarnings(c)) out += "Warning: " + w + "\n";
  for (const std::string& d : DivergenceNotes(c)) out += "Diverged: " + d + " (left out above)\n";
  for (const std::string& l : c.lost) out += "Lost: " + l + " (its seed left out above; --resume trains it)\n";
  if (c.sequential) out += SequentialNote(c) + "\n";
  if (c.equal_flops) out += kEqualFlopsNote + std::string("\n");
  return out + note;
}

double FlopsAtTokens(const std::vector<Comparison::StageFlops>& stages, double tokens) {
  double flops = 0;
  for (const Comparison::StageFlops& st : stages) {
    const double here = std::min(tokens, static_cast<double>(st.tokens));
    if (here <= 0) break;
    flops += here * st.per_token;
    tokens -= here;
  }
  // Past the last stage (never in practice): at the last stage's rate.
  if (tokens > 0 && !stages.empty()) flops += tokens * stages.back().per_token;
  return flops;
}

std::string CurvesSvg(const Comparison& c, CurveAxis axis) {
  const bool flops = axis == CurveAxis::kFlops;
  LinePlot plot;
  plot.title = c.name + (flops ? ": loss vs training FLOPs" : ": loss vs training tokens");
  plot.x_label = flops ? "training FLOPs" : "training tokens";
  plot.y_span = 3.0;
  struct Arm {
    const std::vector<proto::RunSummary>* runs;
    const std::vector<Comparison::StageFlops>* flops;
    const char* color;
    std::string label;
  };
  std::vector<Arm> arms;
  if (!c.baseline.empty()) arms.push_back({&c.baseline, &c.baseline_flops, "#1f77b4", "baseline"});
  arms.push_back({&c.variant, &c.variant_flops, "#ff7f0e", c.baseline.empty() ? "run" : "variant"});
  for (const Arm& a : arms) {
    auto points = [&](const google::protobuf::RepeatedPtrField<proto::CurvePoint>& curve) {
      std::vector<std::pair<double, double>> p;
      for (const auto& pt : curve) {
        const double t = static_cast<double>(pt.tokens());
        p.push_back({flops ? FlopsAtTokens(*a.flops, t) : t, pt.loss()});
      }
      return p;
    };
    for (size_t i = 0; i < a.runs->size(); ++i) {
      const proto::RunSummary& r = (*a.runs)[i];
      plot.series.push_back({points(r.train_curve()), a.color, 1.0, 0.35, false, i == 0 ? a.label + " train" : ""});
      plot.series.push_back({points(r.val_curve()), a.color, 2.5, 0.95, true, i == 0 ? a.label + " val" : ""});
    }
  }
  return RenderSvg(plot);
}

std::string LrSweepTable(const Comparison& c) {
  if (!c.lr_sweep) return "";
  const Comparison::LrSweep& q = *c.lr_sweep;
  std::string out = absl::StrFormat(
      "Learning-rate sweep (seed %d, final val loss in nats/token; * the rate each arm's seeds trained at):\n\n"
      "| learning rate | baseline | variant |\n|---|---|---|\n",
      q.seed);
  auto cell = [&](const Comparison::LrSweep::Arm& arm, size_t i) -> std::string {
    if (i >= arm.runs.size()) return "";
    const proto::RunSummary& r = arm.runs[i];
    if (r.has_divergence()) return "diverged";
    if (r.has_lost()) return "lost";
    return absl::StrFormat("%.4f%s", r.val_loss(), !arm.all_diverged && q.grid[i] == arm.chosen_lr ? " *" : "");
  };
  for (size_t i = 0; i < q.grid.size(); ++i)
    absl::StrAppendFormat(&out, "| %.3g | %s | %s |\n", q.grid[i], cell(q.baseline, i), cell(q.variant, i));
  std::string notes;
  for (const auto& [name, arm] : {std::pair<const char*, const Comparison::LrSweep::Arm*>{"baseline", &q.baseline},
                                  {"variant", &q.variant}}) {
    if (arm->all_diverged)
      absl::StrAppendFormat(&notes, "Every rate diverged for the %s: its seeds train at its spec's rate %.3g.\n", name,
                            arm->chosen_lr);
    else if (q.grid.size() > 1 && (arm->chosen_lr == q.grid.front() || arm->chosen_lr == q.grid.back()))
      absl::StrAppendFormat(&notes, "The %s's best rate %.3g is at the edge of the grid: a better one may lie beyond it "
                                    "(widen lr_sweep).\n", name, arm->chosen_lr);
  }
  return notes.empty() ? out : out + "\n" + notes;
}

std::string LrSweepSvg(const Comparison& c) {
  if (!c.lr_sweep) return "";
  const Comparison::LrSweep& q = *c.lr_sweep;
  LinePlot plot;
  plot.title = c.name + ": final validation loss by learning rate";
  plot.x_label = absl::StrFormat("learning rate (seed %d)", q.seed);
  plot.log_x = true;
  auto series = [&](const Comparison::LrSweep::Arm& arm, const char* color, const char* label) {
    PlotSeries s{{}, color, 2.0, 0.95, true, label};
    for (size_t i = 0; i < q.grid.size() && i < arm.runs.size(); ++i)
      if (!arm.runs[i].has_divergence() && !arm.runs[i].has_lost()) s.points.push_back({q.grid[i], arm.runs[i].val_loss()});
    return s;
  };
  plot.series.push_back(series(q.baseline, "#1f77b4", "baseline"));
  plot.series.push_back(series(q.variant, "#ff7f0e", "variant"));
  return RenderSvg(plot);
}

std::string ReportMarkdown(const Comparison& c, const std::string& command) {
  std::string md = absl::StrCat("# ", c.name, "\n\n");
  if (!c.description.empty()) absl::StrAppend(&md, c.description, "\n\n");
  absl::StrAppend(&md, "Reproduce: `", command, "`\n\n");
  if (!c.baseline.empty()) {
    absl::StrAppend(&md, "## What changes against the baseline\n\n");
    if (c.changes.empty()) absl::StrAppend(&md, "Nothing: variant and baseline are identical.\n");
    for (const auto& l : c.changes) absl::StrAppend(&md, "- `", l, "`\n");
    md += "\n";
  }
  absl::StrAppend(&md, "## Results\n\n");
  md += MarkdownTable(ComparisonRows(c));
  for (const std::string& w : CollapseWarnings(c)) absl::StrAppend(&md, "\n**Warning**: ", w, "\n");
  for (const std::string& d : DivergenceNotes(c)) absl::StrAppend(&md, "\n**Diverged**: ", d, " (left out of the table).\n");
  for (const std::string& l : c.lost)
    absl::StrAppend(&md, "\n**Lost**: ", l, " (its seed left out of the table; `--resume` trains it).\n");
  if (c.sequential) absl::StrAppend(&md, "\n**", SequentialNote(c), "**\n");
  if (c.equal_flops) absl::StrAppend(&md, "\n**", kEqualFlopsNote, "**\n");
  if (!c.same_tokenizer)
    absl::StrAppend(&md, "\n**Tokenizers differ**: ", kTokenizersDifferNote, "\n");
  absl::StrAppend(&md, "\n", kComparisonMethod, "\n\n![curves](curves.svg)\n\n");
  if (!c.baseline_flops.empty() || !c.variant_flops.empty())
    absl::StrAppend(&md, "The same curves against training FLOPs (each arm's own cost per token):\n\n"
                         "![curves against FLOPs](curves_flops.svg)\n\n");
  if (c.lr_sweep) absl::StrAppend(&md, "## Learning rates\n\n", LrSweepTable(c), "\n![learning-rate sweep](lr_sweep.svg)\n\n");
  absl::StrAppend(&md, "## Parameters\n\n", c.baseline.empty() ? "" : "Baseline:\n\n```\n",
                  c.baseline.empty() ? "" : c.baseline_params + "```\n\nVariant:\n\n",
                  "```\n", c.variant_params, "```\n\n");
  if (!c.compute.empty())
    absl::StrAppend(&md, "## Compute\n\nFLOPs from every layer's own count; a training token costs the forward, a "
                         "backward counted as twice the forward, and the cross-entropy.\n\n", c.compute, "\n");
  if (!c.speed.empty()) absl::StrAppend(&md, "## Speed\n\n", c.speed, "\n");
  absl::StrAppend(&md, "## Samples (first seed)\n\n");
  auto samples = [&](const char* title, const std::vector<proto::RunSummary>& runs) {
    if (runs.empty()) return;
    absl::StrAppend(&md, "### ", title, "\n\n");
    for (const auto& s : runs[0].samples())
      absl::StrAppend(&md, "> **", s.prompt(), "**", absl::StrReplaceAll(s.text(), {{"\n", " "}}), "\n\n",
                      absl::StrFormat("repetition %.3f\n\n", s.repetition()));
  };
  samples("baseline", c.baseline);
  samples(c.baseline.empty() ? "run" : "variant", c.variant);
  return md;
}


std::string SummaryJson(const Comparison& c) {
  google::protobuf::util::JsonPrintOptions jo;
  jo.preserve_proto_field_names = true;
  auto runs = [&](const std::vector<proto::RunSummary>& v) {
    std::vector<std::string> out;
    for (const auto& r : v) {
      proto::RunSummary slim = r;  // curves and samples live in each run's own summary.json
      slim.clear_train_curve();
      slim.clear_val_curve();
      slim.clear_samples();
      std::string j;
      (void)google::protobuf::util::MessageToJsonString(slim, &j, jo);
      out.push_back(j);
    }
    return "[" + absl::StrJoin(out, ",\n    ") + "]";
  };
  std::string diffs;
  const Comparison u = WithoutDiverged(c);
  for (const Metric& m : Metrics(c)) {  // the same rows as the table
    if (u.baseline.empty()) break;
    const auto [d, verdict] = Decide(c, u, m);
    absl::StrAppendFormat(&diffs, "%s\n    %s: {\"mean\": %s, \"ci95_half_width\": %s, \"detectable\": %s, "
                          "\"seeds_needed\": %d, \"verdict\": %s}",
                          diffs.empty() ? "" : ",", JsonString(m.name), JsonNumber(d.mean),
                          JsonNumber(d.half_width, true), JsonNumber(d.detectable, true), d.seeds_needed,
                          JsonString(verdict));
  }
  std::vector<std::string> changes;
  for (const auto& l : c.changes) changes.push_back(JsonString(l));
  std::string extras;  // the optional parts of the comparison
  if (c.sequential) {
    const Comparison::Sequential& q = *c.sequential;
    std::vector<std::string> looks;
    for (const SequentialLook& l : q.looks)
      looks.push_back(absl::StrFormat("{\"seeds\": %d, \"mean\": %s, \"half_width\": %s}", l.n, JsonNumber(l.mean),
                                      JsonNumber(l.half_width, true)));
    extras = absl::StrFormat(
        ",\n  \"sequential\": {\"metric\": %s, \"max_seeds\": %d, \"alpha\": %g, \"spending_power\": %g, "
        "\"resolution\": %g, \"stopped_because\": %s,\n    \"looks\": [%s]}",
        JsonString(q.metric), q.design.max_n, q.design.alpha, q.design.rho, q.resolution,
        JsonString(StopReason(q.design, q.looks.empty() ? SequentialLook{} : q.looks.back(), q.resolution)), absl::StrJoin(looks, ", "));
  }
  if (c.lr_sweep) {
    const Comparison::LrSweep& q = *c.lr_sweep;
    auto arm = [&](const Comparison::LrSweep::Arm& a) {
      std::vector<std::string> losses;
      for (const auto& r : a.runs) losses.push_back(r.has_divergence() ? "null" : JsonNumber(r.val_loss()));
      return absl::StrFormat("{\"chosen_lr\": %s, \"all_diverged\": %s, \"val_loss\": [%s]}", JsonNumber(a.chosen_lr),
                             a.all_diverged ? "true" : "false", absl::StrJoin(losses, ", "));
    };
    std::vector<std::string> grid;
    for (double lr : q.grid) grid.push_back(JsonNumber(lr));
    absl::StrAppendFormat(&extras, ",\n  \"lr_sweep\": {\"seed\": %d, \"grid\": [%s],\n    \"baseline\": %s,\n    \"variant\": %s}",
                          q.seed, absl::StrJoin(grid, ", "), arm(q.baseline), arm(q.variant));
  }
  if (c.equal_flops) extras += ",\n  \"equal_flops\": true";
  return absl::StrCat("{\n  \"name\": ", JsonString(c.name), ",\n  \"description\": ", JsonString(c.description),
                      ",\n  \"base\": ", JsonString(c.base), ",\n  \"changes\": [", absl::StrJoin(changes, ", "), "],\n  \"baseline\": ", runs(c.baseline),
                      ",\n  \"variant\": ", runs(c.variant), ",\n  \"difference\": {", diffs, "\n  }", extras, "\n}\n");
}

}  // namespace tinylm
