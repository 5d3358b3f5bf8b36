#include "tinylm/experiments/compute.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

#include <cmath>

#include "tinylm/experiments/line_plot.h"
#include "tinylm/model/flops.h"

namespace tinylm {
namespace {

std::string Si(double v) { return SiNumber(v, " "); }

}  // namespace

std::vector<StageCompute> ComputeOf(const Experiment& e) {
  OmpThreadsScope one_thread(1);  // restores the caller's team size afterwards
  Context ctx(1, 1);
  auto model = e.BuildModel();
  std::vector<StageCompute> out;
  for (const PreparedStage& st : e.stages) {
    StageCompute c;
    c.stage = st.spec.name();
    c.seq_len = st.spec.seq_len();
    c.tokens = st.steps * st.spec.batch_size() * st.spec.seq_len();
    const ModelFlops f = CountModelFlops(ctx, *model, 1, c.seq_len);
    c.forward_per_token = f.forward_per_token();
    c.training_per_token = f.training_per_token();
    out.push_back(c);
  }
  return out;
}

std::string ComputeTable(const std::vector<StageCompute>* baseline, const std::vector<StageCompute>& variant) {
  std::string s = baseline ? "| stage | seq | FLOPs/token forward (baseline -> variant) | training FLOPs/token | ratio | "
                             "stage total (variant) |\n|---|---|---|---|---|---|\n"
                           : "| stage | seq | FLOPs/token forward | training FLOPs/token | stage total |\n|---|---|---|---|---|\n";
  for (size_t i = 0; i < variant.size(); ++i) {
    const StageCompute& v = variant[i];
    if (baseline && i < baseline->size()) {
      const StageCompute& b = (*baseline)[i];
      s += absl::StrFormat("| %s | %d | %s -> %s | %s -> %s | %.3fx | %sFLOP |\n", v.stage, v.seq_len,
                           Si(b.forward_per_token), Si(v.forward_per_token), Si(b.training_per_token),
                           Si(v.training_per_token), v.training_per_token / b.training_per_token, Si(v.total()));
    } else {
      s += absl::StrFormat("| %s | %d | %s | %s | %sFLOP |\n", v.stage, v.seq_len, Si(v.forward_per_token),
                           Si(v.training_per_token), Si(v.total()));
    }
  }
  return s;
}

Experiment AtBaselineFlops(const Experiment& variant, const std::vector<StageCompute>& baseline,
                           const std::vector<StageCompute>& variant_compute) {
  if (baseline.size() != variant_compute.size())
    throw SpecError(absl::StrCat("equal_flops: the baseline has ", baseline.size(), " stages and the variant ",
                                 variant_compute.size(), "; equal compute needs the same stages"));
  return WithStageSettings(variant, [&](int i, proto::StageSpec* st) {
    const double tokens = baseline[i].total() / variant_compute[i].training_per_token;
    st->set_tokens(std::max<int64_t>(1, std::llround(tokens)));
  });
}

std::vector<Comparison::StageFlops> StageFlopsOf(const std::vector<StageCompute>& compute) {
  std::vector<Comparison::StageFlops> out;
  for (const StageCompute& c : compute) out.push_back({c.tokens, c.training_per_token});
  return out;
}

void AnnotateRun(const Experiment& arm, const std::vector<StageCompute>& compute, proto::RunSummary* run) {
  double flops = 0, tokens = 0;
  for (const StageCompute& c : compute) flops += c.total(), tokens += static_cast<double>(c.tokens);
  run->set_training_flops(flops);
  run->set_training_flops_per_token(tokens > 0 ? flops / tokens : 0);
  run->set_learning_rate(arm.stages[0].spec.optimizer().lr());
}

}  // namespace tinylm
