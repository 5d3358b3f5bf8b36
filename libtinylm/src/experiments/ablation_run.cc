#include "tinylm/experiments/ablation_run.h"

#include <unistd.h>

#include <absl/strings/str_format.h>
#include <absl/strings/str_join.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>

#include "tinylm/data/data.h"
#include "tinylm/data/file_writes.h"
#include "tinylm/experiments/compute.h"
#include "tinylm/experiments/leaderboard.h"
#include "tinylm/experiments/lr_sweep.h"
#include "tinylm/experiments/memory_estimate.h"
#include "tinylm/experiments/report_html.h"
#include "tinylm/experiments/run_pool.h"
#include "tinylm/experiments/sequential.h"
#include "tinylm/experiments/speed.h"
#include "tinylm/plugins/plugin_manager.h"
#include "tinylm/training/metrics_csv.h"
#include "tinylm/training/trainer.h"

namespace tinylm {

namespace fs = std::filesystem;

namespace {

// The command that reproduces this report. When the spec's plugins were found outside the
// default plugin directory, the command sets TINYLM_PLUGIN_PATH to their directories.
std::string ReproduceCommand(const Experiment& e, const std::string& spec_path, const std::string& flags) {
  std::vector<std::string> dirs;
  const std::string default_dir = PluginManager::DefaultPluginDirectory();
  for (const std::string& name : e.spec.plugins()) {
    const auto info = PluginManager::Global().Find(name);
    if (!info) continue;
    const std::string dir = fs::path(info->path).parent_path().string();
    std::error_code ec;
    if (!default_dir.empty() && fs::equivalent(dir, default_dir, ec)) continue;
    if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
  }
  std::string s = dirs.empty() ? "" : "TINYLM_PLUGIN_PATH=" + absl::StrJoin(dirs, ":") + " ";
  return s + "ablate " + spec_path + (flags.empty() ? "" : " " + flags);
}

// Text bytes per token of the first stage's training stream; for a grouped tokenizer (byte
// pooling) per position, and how full its chunks are (a chunk's real bytes, histogram).
void PrintTokenization(const Experiment& e) {
  const PreparedStage& st = e.stages[0];
  if (st.chat_train || st.train->tokens.empty()) return;
  const Tokenizer& tok = *e.tokenizer;
  const int64_t g = st.train->group, positions = static_cast<int64_t>(st.train->tokens.size()) / g;
  std::printf("\n\ntokenization: %lld text bytes in %lld %s (%.3f bytes per %s)", static_cast<long long>(st.train->text_bytes),
              static_cast<long long>(positions), g > 1 ? "chunks" : "tokens",
              static_cast<double>(st.train->text_bytes) / std::max<int64_t>(1, positions), g > 1 ? "chunk" : "token");
  if (g == 1) return;
  // The histogram of the first 10M positions at most: a multi-GB stream is not read in full
  // to print one line.
  const int64_t counted = std::min<int64_t>(positions, 10'000'000);
  std::vector<int64_t> hist(g + 1, 0);
  for (int64_t p = 0; p < counted; ++p) {
    int64_t bytes = 0;
    for (int64_t k = 0; k < g; ++k) bytes += tok.TokenBytes(st.train->tokens[p * g + k]);
    ++hist[bytes];
  }
  std::printf("; chunks by real bytes:");
  for (int64_t b = 0; b <= g; ++b)
    if (hist[b]) std::printf(" %lld:%.2f%%", static_cast<long long>(b), 100.0 * hist[b] / counted);
}

// Prints the memory the runs need (the larger arm's, `jobs` runs at once) and refuses a
// comparison that would not fit the machine, before anything is trained.
void RefuseBeyondMachine(const ResolvedSpec& rs, int64_t need) {
  const int64_t machine = MachineMemoryBytes();
  if (machine > 0 && need > machine)
    throw SpecError(absl::StrFormat("%s: the runs need an estimated %.2f GiB of memory and this machine has %.2f GiB "
                                    "(fewer jobs, a smaller model or batch)",
                                    rs.chain()[0].path, need / 1073741824.0, machine / 1073741824.0));
}

void CheckMemory(const ResolvedSpec& rs, const Experiment& variant, const Experiment* baseline, int jobs) {
  MemoryEstimate m = EstimateMemory(variant, jobs);
  if (baseline) {
    const MemoryEstimate b = EstimateMemory(*baseline, jobs);
    if (b.total() > m.total()) m = b;
  }
  const int64_t machine = MachineMemoryBytes();
  std::printf("\nMemory (estimated, the larger arm):\n%s\n  this machine                         %.2f GiB, %.2f GiB available\n",
              m.Describe().c_str(), machine / 1073741824.0, AvailableMemoryBytes() / 1073741824.0);
  RefuseBeyondMachine(rs, m.total());
}

// The sequential design of a comparison whose spec asks for sequential seeds (validated by
// PrepareExperiment); the deciding metric must be a table row.
Comparison::Sequential PlanSequential(const ResolvedSpec& rs, const Experiment& variant) {
  const proto::SequentialSpec& q = variant.spec.sequential();
  const std::vector<std::string> rows = BuiltinDecidingMetrics();
  if (std::find(rows.begin(), rows.end(), q.metric()) == rows.end() && variant.evaluators.empty())
    throw rs.ErrorAt("sequential.metric", "no table row is named '" + q.metric() + "'; rows: " + absl::StrJoin(rows, ", "));
  Comparison::Sequential plan;
  plan.metric = q.metric();
  plan.resolution = q.resolution();
  plan.design = DesignSequential(static_cast<int>(variant.seeds.size()), q.max_seeds(), q.alpha(), q.spending_power());
  std::printf("\nsequential: up to %d seed pairs until the %s interval excludes 0%s (repeated %g%% intervals, "
              "alpha spent as %g*(n/%d)^%g)",
              q.max_seeds(), q.metric().c_str(),
              q.resolution() > 0 ? absl::StrFormat(" or is within ±%g", q.resolution()).c_str() : "", 100 * (1 - q.alpha()),
              q.alpha(), q.max_seeds(), q.spending_power());
  return plan;
}

// Sequential seeds: after the listed seeds, looks at the deciding metric and trains the next seed
// pair until the design says stop or the maximum is reached.
void AddSeedsSequentially(const std::vector<uint64_t>& listed,
                          const std::function<void(const std::vector<uint64_t>&)>& run_pairs, Comparison* cmp) {
  Comparison::Sequential& q = *cmp->sequential;
  uint64_t next = *std::max_element(listed.begin(), listed.end()) + 1;
  for (;;) {
    std::vector<double> diffs;
    try {
      diffs = PairedDifferences(*cmp, q.metric);
    } catch (const std::invalid_argument& e) {
      throw SpecError(std::string("sequential.metric: ") + e.what());
    }
    const SequentialLook look = Look(q.design, diffs, q.resolution);
    if (q.looks.empty() || q.looks.back().n != look.n) q.looks.push_back(look);
    const bool at_max = static_cast<int>(cmp->variant.size()) >= q.design.max_n;
    if (look.half_width < 0)
      std::printf("[sequential] %d healthy seed pairs: no interval yet\n", look.n);
    else
      std::printf("[sequential] %d seeds: %s %+.4g ± %.4g -> %s\n", look.n, q.metric.c_str(), look.mean, look.half_width,
                  look.Stop() || at_max ? ("stop: " + StopReason(q.design, look, q.resolution)).c_str() : "next seed");
    std::fflush(stdout);
    if (look.Stop() || at_max) return;
    run_pairs({next++});
  }
}

// Every run's metrics of the comparison in one CSV, each row led by its arm, seed and run
// directory: one file for a spreadsheet or pandas to plot the seeds of both arms.
std::string AblationMetricsCsv(const Comparison& cmp, const fs::path& runs_dir) {
  std::string csv;
  for (const auto* arm : {&cmp.baseline, &cmp.variant})
    for (const proto::RunSummary& r : *arm)
      csv += MetricsCsv(ReadFileIfExists((runs_dir / r.spec_hash() / "metrics.jsonl").string()), {"arm", "seed", "run"},
                        {r.role(), std::to_string(r.seed()), r.spec_hash()}, csv.empty());
  return csv;
}

// Data-parallel training (ablate --data-parallel under mpirun): one run at a time over all ranks,
// each stage's batch split evenly between them. Returns the jobs to use (1).
int DataParallelPlan(const ResolvedSpec& rs, const Experiment& variant, const Experiment* baseline,
                     const Communicator& comm) {
  for (const Experiment* e : {&variant, baseline})
    for (size_t i = 0; e && i < e->stages.size(); ++i)
      if (e->stages[i].spec.batch_size() % comm.size() != 0)
        throw rs.ErrorAt(absl::StrFormat("stages[%d].batch_size", i),
                         absl::StrFormat("%d rows do not split evenly over %d data-parallel ranks (%s)",
                                         e->stages[i].spec.batch_size(), comm.size(), e->role),
                         e == baseline);
  std::printf("\ndata parallel: every run trained by all %d ranks together, %d rows of each batch per rank%s",
              comm.size(), variant.stages[0].spec.batch_size() / comm.size(),
              variant.spec.jobs() > 1 ? absl::StrFormat(" (one run at a time: the spec's jobs %d do not apply)",
                                                        variant.spec.jobs()).c_str() : "");
  return 1;
}

}  // namespace

bool WritesReports(const AblationOptions& o) {
  return o.sweep ? o.sweep->Leads() : Communicator::World().rank() == 0;
}

Comparison RunAblation(const std::string& spec_path, const AblationOptions& o) {
  // Everything is validated before anything is trained or written.
  std::vector<Override> overrides = o.overrides;
  if (o.tokens > 0) {
  const ResolvedSpec probe = LoadSpec(spec_path, overrides);
  const int stages = std::max(1, std::max(probe.variant().stages_size(),
                                          probe.has_baseline() ? probe.baseline().stages_size() : 0));
  for (int i = 0; i < stages; ++i) overrides.push_back({"stages[" + std::to_string(i) + "].tokens", std::to_string(o.tokens)});
  }
  const ResolvedSpec rs = LoadSpec(spec_path, overrides);
  // Before hours of training: results must have somewhere to go.
  CheckWritableDirectory(rs.variant().output_dir());
  const std::string dir = ResolveDataDir(o.data_dir);
  Experiment variant = PrepareExperiment(rs, false, dir);
  std::unique_ptr<Experiment> baseline;
  if (rs.has_baseline()) baseline = std::make_unique<Experiment>(PrepareExperiment(rs, true, dir));
  // Before anything allocates a model (counting FLOPs runs it): the arenas alone must fit.
  for (const Experiment* e : {&variant, baseline.get()})
    if (e) RefuseBeyondMachine(rs, ArenaBytes(e->params) * std::max(1, e->spec.jobs()));
  std::vector<StageCompute> variant_compute = ComputeOf(variant), baseline_compute;
  if (baseline) baseline_compute = ComputeOf(*baseline);
  if (variant.spec.equal_flops()) {
    variant = AtBaselineFlops(variant, baseline_compute, variant_compute);
    variant_compute = ComputeOf(variant);
  }

  Comparison cmp;
  cmp.name = variant.spec.name();
  cmp.description = variant.spec.description();
  cmp.output_dir = variant.spec.output_dir();
  std::printf("%s: %s\n", cmp.name.c_str(), cmp.description.empty() ? "(no description)" : cmp.description.c_str());
  if (baseline) {
    cmp.base = rs.chain()[1].path;
    cmp.baseline_spec = baseline->spec_text;
    cmp.changes = DiffSpecs(baseline->spec, variant.spec);
    cmp.same_tokenizer = baseline->tokenizer->Save() == variant.tokenizer->Save();
    std::printf("\nChanges against the baseline (%s):\n", rs.chain()[1].path.c_str());
    if (cmp.changes.empty()) std::printf("  (none: variant and baseline are identical)\n");
    for (const auto& l : cmp.changes) std::printf("  %s\n", l.c_str());
    cmp.baseline_params = baseline->param_table;
    std::printf("\nBaseline parameters:\n%s", baseline->param_table.c_str());
  }
  cmp.variant_params = variant.param_table;
  cmp.variant_spec = variant.spec_text;
  std::printf("\n%s parameters:\n%s", baseline ? "Variant" : "Model", variant.param_table.c_str());
  for (const PreparedStage& st : variant.stages)
    std::printf("\nstage %s: %lld steps x %d x %d tokens; %lld training documents (%lld dropped for overlapping "
                "validation), %lld validation documents",
                st.spec.name().c_str(), static_cast<long long>(st.steps), st.spec.batch_size(), st.spec.seq_len(),
                static_cast<long long>(st.train_documents), static_cast<long long>(st.dropped_overlap),
                static_cast<long long>(st.val_documents));
  PrintTokenization(variant);
  cmp.compute = ComputeTable(baseline ? &baseline_compute : nullptr, variant_compute);
  cmp.equal_flops = variant.spec.equal_flops();
  std::printf("\n\nCompute (FLOPs from every layer's count; training = forward + backward at 2x forward%s):\n%s",
              cmp.equal_flops ? "; equal_flops: the variant's budgets scaled to the baseline's FLOPs" : "",
              cmp.compute.c_str());
  cmp.variant_flops = StageFlopsOf(variant_compute);
  cmp.baseline_flops = StageFlopsOf(baseline_compute);
  std::printf("\nseeds:");
  for (uint64_t s : variant.seeds) std::printf(" %llu", static_cast<unsigned long long>(s));
  // Runs trained side by side, each on its share of the cores (runtime.threads, when set, wins).
  int jobs = variant.spec.jobs();
  const int speed_threads = variant.spec.runtime().threads();
  if (o.data_parallel) jobs = DataParallelPlan(rs, variant, baseline.get(), *o.data_parallel);
  if (jobs > 1) {
    const int threads = speed_threads > 0 ? speed_threads : ThreadsPerJob(jobs);
    variant = WithThreads(variant, threads);
    if (baseline) *baseline = WithThreads(*baseline, threads);
    std::printf("\njobs: %d runs at once, %d thread%s each", jobs, threads, threads == 1 ? "" : "s");
  }
  if (variant.spec.has_sequential()) cmp.sequential = PlanSequential(rs, variant);
  if (variant.spec.has_lr_sweep()) {
    cmp.lr_sweep = Comparison::LrSweep();
    cmp.lr_sweep->seed = variant.spec.lr_sweep().seed();
    cmp.lr_sweep->grid = LearningRateGrid(variant.spec.lr_sweep());
    std::printf("\nlearning-rate sweep on seed %llu, per arm:", static_cast<unsigned long long>(cmp.lr_sweep->seed));
    for (double lr : cmp.lr_sweep->grid) std::printf(" %.3g", lr);
  }
  std::printf("\n");
  CheckMemory(rs, variant, baseline.get(), jobs);
  if (o.dry_run) {
    std::printf("\ndry run: spec is valid; nothing trained.\n");
    return cmp;
  }

  const fs::path out = variant.spec.output_dir();
  const fs::path report_dir = out / cmp.name;
  // Under mpirun one rank writes the report: rank 0, or in a sweep the lowest one still alive.
  const bool first_rank = Communicator::World().rank() == 0;
  if (first_rank) {
    fs::create_directories(report_dir);
    fs::remove(report_dir / "summary.json");  // not finished until written again at the end
    WriteFileAtomic((report_dir / "variant.pbtxt").string(), variant.spec_text);
    if (baseline) WriteFileAtomic((report_dir / "baseline.pbtxt").string(), baseline->spec_text);
  }
  const bool tty = jobs == 1 && isatty(fileno(stdout));  // side-by-side runs print whole lines
  // Data-parallel: rank 0 holds the run's lock and reads its cache for all (TrainRun).
  const bool run_writer = !o.data_parallel || first_rank;
  // Runs live in content-addressed directories (spec, seed, code, data): a baseline shared by
  // a suite of ablations trains once per seed, and a finished run is never trained again.
  const TrainRunFn train = [&](const Experiment& e, uint64_t seed, const std::string& label) {
    RunOptions ro;
    ro.seed = seed;
    ro.dir = (out / "runs" / e.CacheKey(seed)).string();
    ro.resume = o.resume;
    ro.label = label;
    ro.tty = tty;
    ro.data_parallel = o.data_parallel;
    std::unique_ptr<FileLock> lock;
    if (run_writer) {
      fs::create_directories(ro.dir);
      lock = std::make_unique<FileLock>(ro.dir + "/.lock", [&] {
        std::printf("%s waiting: another process is training %s\n", ro.label.c_str(), ro.dir.c_str());
        std::fflush(stdout);
      });
      proto::RunSummary cached;
      const bool finished = ReadFinishedRun(ro.dir, &cached) && cached.spec_hash() == e.CacheKey(seed);
      std::printf("%s %s %s\n", ro.label.c_str(), finished ? "cached:" : "training ->", ro.dir.c_str());
      std::fflush(stdout);
    }
    return TrainRun(e, ro);  // the cached summary when finished
  };
  const TrainAllFn train_all = [&](const std::vector<RunRequest>& requests) {
    return o.sweep ? o.sweep->TrainAll(requests, jobs, train) : TrainRuns(requests, jobs, train);
  };
  if (cmp.lr_sweep) {
    // Each arm at its own best rate: the arms are replaced by their chosen versions.
    Comparison::LrSweep& q = *cmp.lr_sweep;
    for (auto [arm, sweep, compute] : {std::tuple{baseline.get(), &q.baseline, &baseline_compute},
                                       std::tuple{&variant, &q.variant, &variant_compute}}) {
      Experiment chosen = *arm;
      *sweep = SweepLearningRate(*arm, q.grid, q.seed, train_all, &chosen);
      for (size_t i = 0; i < sweep->runs.size(); ++i) AnnotateRun(AtLearningRate(*arm, q.grid[i]), *compute, &sweep->runs[i]);
      *arm = std::move(chosen);
      std::printf("[%s] learning rate %.3g%s\n", arm->role.c_str(), sweep->chosen_lr,
                  sweep->all_diverged ? " (the spec's: every rate of the sweep diverged)" : "");
    }
  }
  // Both arms of each seed, `jobs` runs at once. A seed with a lost run (its MPI rank stopped)
  // is left out of both arms and listed.
  auto run_pairs = [&](const std::vector<uint64_t>& seeds) {
    std::vector<RunRequest> requests;
    for (uint64_t seed : seeds)
      for (const Experiment* e : {static_cast<const Experiment*>(baseline.get()), static_cast<const Experiment*>(&variant)})
        if (e) requests.push_back({e, seed, "[" + e->role + " seed " + std::to_string(seed) + "]"});
    std::vector<proto::RunSummary> runs = train_all(requests);
    std::set<uint64_t> lost_seeds;
    for (size_t i = 0; i < runs.size(); ++i)
      if (runs[i].has_lost()) {
        lost_seeds.insert(requests[i].seed);
        cmp.lost.push_back(requests[i].label + ": " + runs[i].lost());
      }
    for (size_t i = 0; i < runs.size(); ++i) {
      if (lost_seeds.count(requests[i].seed)) continue;
      const bool is_baseline = requests[i].experiment == baseline.get();
      AnnotateRun(*requests[i].experiment, is_baseline ? baseline_compute : variant_compute, &runs[i]);
      (is_baseline ? cmp.baseline : cmp.variant).push_back(std::move(runs[i]));
    }
  };
  run_pairs(variant.seeds);
  if (cmp.sequential) AddSeedsSequentially(variant.seeds, run_pairs, &cmp);
  if (!WritesReports(o)) return cmp;  // another rank reports
  if (baseline && o.speed_rounds > 0) {
    std::printf("\nspeed: %d alternating rounds per arm ...\n", o.speed_rounds);
    std::fflush(stdout);
    Context ctx(speed_threads, 1);  // each arm on every core it would have alone
    cmp.speed = SpeedTable(CompareSpeed(ctx, *baseline, variant, o.speed_rounds));
  }
  const std::string table = ComparisonTable(cmp);
  std::printf("\n%s\n%s\n", cmp.name.c_str(), table.c_str());
  if (cmp.lr_sweep) std::printf("%s\n", LrSweepTable(cmp).c_str());
  if (!cmp.speed.empty()) std::printf("Speed (variant against baseline):\n%s\n", cmp.speed.c_str());
  WriteFileAtomic((report_dir / "metrics.csv").string(), AblationMetricsCsv(cmp, out / "runs"));
  WriteFileAtomic((report_dir / "curves.svg").string(), CurvesSvg(cmp));
  WriteFileAtomic((report_dir / "curves_flops.svg").string(), CurvesSvg(cmp, CurveAxis::kFlops));
  if (cmp.lr_sweep) WriteFileAtomic((report_dir / "lr_sweep.svg").string(), LrSweepSvg(cmp));
  const std::string command = ReproduceCommand(variant, spec_path, o.flags);
  WriteFileAtomic((report_dir / "report.md").string(), ReportMarkdown(cmp, command));
  WriteFileAtomic((report_dir / "report.html").string(), ReportHtml(cmp, command));
  WriteFileAtomic((report_dir / "summary.json").string(), SummaryJson(cmp));  // marks it finished
  std::printf("report: %s\nall ablations in %s: %s\n", (report_dir / "report.md").c_str(), out.c_str(),
              WriteLeaderboard(out.string()).c_str());
  return cmp;
}

}  // namespace tinylm
