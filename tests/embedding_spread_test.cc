// The embedding-spread diagnostic: equal to a two-pass variance share computed from the
// embedding rows, 0 for an embedding that maps every input to the same vector, and the
// comparison report warns (naming arm and seed) exactly when a run's embedding collapsed.
#include <gtest/gtest.h>

#include <vector>

#include "small_models.h"
#include "tinylm/evaluation/embedding_spread.h"
#include "tinylm/experiments/report.h"
#include "tinylm/layers/embedding.h"

namespace tinylm::testing {
namespace {

std::unique_ptr<LanguageModel> SmallModel() { return SmallTransformer(64, 16, 1, 2, 32, 32, 3); }

Tensor Ids(int64_t batch, int64_t seq) {
  Tensor ids = Tensor::Empty({batch, seq}, DType::kS32);
  for (int64_t i = 0; i < ids.numel(); ++i) ids.s32()[i] = static_cast<int32_t>((i * 7 + i / 5) % 64);
  return ids;
}

// Two passes over the gathered rows: mean first, then squared deviations.
double NaiveSpread(const Tensor& table, const Tensor& ids) {
  const int64_t d = table.dim(1), n = ids.numel();
  double between = 0, total = 0;
  for (int64_t f = 0; f < d; ++f) {
    double mean = 0;
    for (int64_t r = 0; r < n; ++r) mean += table.f32()[ids.s32()[r] * d + f];
    mean /= n;
    for (int64_t r = 0; r < n; ++r) {
      const double v = table.f32()[ids.s32()[r] * d + f];
      between += (v - mean) * (v - mean) / n;
      total += v * v / n;
    }
  }
  return between / total;
}

Param* EmbeddingTable(LanguageModel& m) { return dynamic_cast<Embedding&>(*m.net().layers()[0]).weight(); }

TEST(EmbeddingSpread, EqualsTheVarianceShareOfTheEmbeddedRows) {
  auto m = SmallModel();
  Context ctx(2, 1);
  const Tensor ids = Ids(3, 20);
  const double s = EmbeddingSpread(ctx, *m, ids);
  EXPECT_NEAR(s, NaiveSpread(EmbeddingTable(*m)->value, ids), 1e-9);
  EXPECT_GT(s, 0.5);  // random rows: most of the variance is between positions
}

TEST(EmbeddingSpread, IsZeroWhenEveryInputMapsToTheSameVector) {
  auto m = SmallModel();
  Context ctx(2, 1);
  Tensor table = EmbeddingTable(*m)->value;
  const int64_t d = table.dim(1);
  for (int64_t v = 1; v < table.dim(0); ++v)
    for (int64_t f = 0; f < d; ++f) table.f32()[v * d + f] = table.f32()[f] + (v % 2 ? 1e-7f : 0.0f);
  m->store().Touch();
  const double s = EmbeddingSpread(ctx, *m, Ids(3, 20));
  EXPECT_LT(s, 1e-9);
  EXPECT_GT(s, 0.0);  // the 1e-7 differences are still seen, not rounded away
}

proto::RunSummary Summary(uint64_t seed, double spread) {
  proto::RunSummary r;
  r.set_seed(seed);
  r.set_val_bpb(2.0 + 0.01 * seed);
  r.set_embedding_spread(spread);
  return r;
}

TEST(EmbeddingSpread, ReportWarnsOnlyAboutCollapsedRuns) {
  Comparison c;
  c.name = "x";
  c.baseline = {Summary(1, 0.6), Summary(2, 0.7), Summary(3, 0.65)};
  c.variant = {Summary(1, 0.3), Summary(2, 2e-9), Summary(3, 0.2)};
  const std::vector<std::string> w = CollapseWarnings(c);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("variant seed 2"), std::string::npos) << w[0];
  const std::string table = ComparisonTable(c);
  EXPECT_NE(table.find("Warning: variant seed 2"), std::string::npos) << table;
  EXPECT_NE(ReportMarkdown(c, "ablate x").find("**Warning**: variant seed 2"), std::string::npos);
  // A diagnostic, not a score: its difference is never labeled better or worse.
  const size_t row = table.find("embedding spread");
  ASSERT_NE(row, std::string::npos);
  const std::string line = table.substr(row, table.find('\n', row) - row);
  EXPECT_EQ(line.find("better"), std::string::npos) << line;
  EXPECT_EQ(line.find("worse"), std::string::npos) << line;

  c.variant[1].set_embedding_spread(0.25);
  EXPECT_TRUE(CollapseWarnings(c).empty());
  c.variant[1].clear_embedding_spread();  // summaries written before the field existed
  EXPECT_TRUE(CollapseWarnings(c).empty());
}

}  // namespace
}  // namespace tinylm::testing
