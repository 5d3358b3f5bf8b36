// Sequential seeds: the alpha-spending design keeps the false-positive rate of "add seeds until
// the interval excludes 0" at or below 5% under no effect — where naive looking at the ordinary
// interval after every seed does not — its intervals keep their coverage wherever they stop, and
// the comparison table shows the decided row's repeated interval and why the seeds stopped.
#include <absl/strings/str_format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tinylm/experiments/report.h"
#include "tinylm/experiments/sequential.h"

namespace tinylm::testing {
namespace {

// Runs the sequential procedure on differences ~ N(effect, 1) until it stops; returns the final
// look. `naive` looks with the fixed-sample 95% interval instead of the design's.
SequentialLook Simulate(const SequentialDesign& d, double effect, double resolution, std::mt19937_64& rng, bool naive) {
  std::normal_distribution<double> noise(effect, 1.0);
  std::vector<double> diffs;
  for (;;) {
    diffs.push_back(noise(rng));
    if (static_cast<int>(diffs.size()) < d.first_n) continue;
    SequentialLook look = Look(d, diffs, resolution);
    if (naive && look.half_width >= 0) {
      look.half_width = TQuantile975(look.n - 1) * look.sd / std::sqrt(static_cast<double>(look.n));
      look.excludes_zero = std::fabs(look.mean) > look.half_width;
      look.precise = look.half_width <= resolution;
    }
    if (look.Stop() || look.n >= d.max_n) return look;
  }
}

struct Rates {
  // Share of runs that declared a difference (under no effect: false positives), share whose
  // final interval covered the true effect, mean seeds at stopping.
  double declared = 0, coverage = 0, mean_seeds = 0;
};

Rates Repeat(const SequentialDesign& d, double effect, double resolution, int trials, uint64_t seed, bool naive = false) {
  std::mt19937_64 rng(seed);
  Rates r;
  for (int t = 0; t < trials; ++t) {
    const SequentialLook l = Simulate(d, effect, resolution, rng, naive);
    r.declared += l.excludes_zero;
    r.coverage += std::fabs(l.mean - effect) <= l.half_width;
    r.mean_seeds += l.n;
  }
  r.declared /= trials;
  r.coverage /= trials;
  r.mean_seeds /= trials;
  return r;
}

TEST(Sequential, OneLookIsTheOrdinaryTTest) {
  // A design with a single look spends all of alpha there: its critical value is the Student-t
  // quantile (up to the simulation's error).
  for (int n : {3, 6}) EXPECT_NEAR(DesignSequential(n, n, 0.05, 1).Critical(n), TQuantile975(n - 1), 0.02 * TQuantile975(n - 1));
  // Several looks: every one stricter than the fixed-sample test; deterministic.
  const SequentialDesign d = DesignSequential(3, 10, 0.05, 1);
  for (int n = 3; n <= 10; ++n) EXPECT_GT(d.Critical(n), TQuantile975(n - 1)) << n;
  EXPECT_EQ(DesignSequential(3, 10, 0.05, 1).critical, d.critical);
  EXPECT_THROW(DesignSequential(1, 10, 0.05, 1), std::invalid_argument);
  EXPECT_THROW(DesignSequential(4, 3, 0.05, 1), std::invalid_argument);
}

TEST(Sequential, FalsePositivesStayAtMostFivePercentUnderNoEffect) {
  constexpr int kTrials = 20000;  // binomial standard error at 0.05: 0.0015
  for (const auto& [first, max, rho] : std::vector<std::tuple<int, int, double>>{{2, 10, 1}, {3, 10, 1}, {3, 20, 2}, {5, 8, 3}}) {
    const SequentialDesign d = DesignSequential(first, max, 0.05, rho);
    // Stopping only when the interval excludes 0 (resolution 0), or also when it is narrow.
    for (double resolution : {0.0, 0.8}) {
      const Rates r = Repeat(d, 0.0, resolution, kTrials, 1000 + first * 100 + max);
      EXPECT_LE(r.declared, 0.05 + 0.004) << first << ".." << max << " rho " << rho << " resolution " << resolution;
    }
  }
  // The same looks with the ordinary interval declare a difference far more often: the
  // simulation can tell.
  EXPECT_GT(Repeat(DesignSequential(3, 10, 0.05, 1), 0.0, 0.0, kTrials, 99, true).declared, 0.10);
}

TEST(Sequential, IntervalsKeepTheirCoverageAndRealEffectsStopEarly) {
  const SequentialDesign d = DesignSequential(3, 12, 0.05, 1);
  const Rates small = Repeat(d, 0.3, 0.5, 10000, 5);
  EXPECT_GE(small.coverage, 0.95 - 0.005);
  // An effect of 3 sds is declared at once or nearly so; no effect runs longer.
  const Rates big = Repeat(d, 3.0, 0.0, 4000, 6);
  EXPECT_GT(big.declared, 0.95);
  EXPECT_LT(big.mean_seeds, 5.0);
  EXPECT_GT(Repeat(d, 0.0, 0.0, 4000, 7).mean_seeds, 10.0);
}

proto::RunSummary Summary(uint64_t seed, double bpb) {
  proto::RunSummary r;
  r.set_seed(seed);
  r.set_val_bpb(bpb);
  r.set_val_loss(bpb);
  return r;
}

TEST(Sequential, TableShowsTheRepeatedIntervalAndWhyTheSeedsStopped) {
  Comparison c;
  c.name = "seq";
  const std::vector<double> base = {2.00, 2.10, 1.95, 2.05}, var = {1.90, 1.99, 1.86, 1.94};
  for (size_t i = 0; i < base.size(); ++i) {
    c.baseline.push_back(Summary(i + 1, base[i]));
    c.variant.push_back(Summary(i + 1, var[i]));
  }
  Comparison::Sequential q;
  q.metric = "val bits/byte";
  q.design = DesignSequential(2, 10, 0.05, 1);
  q.resolution = 0.01;
  const std::vector<double> diffs = PairedDifferences(c, q.metric);
  ASSERT_EQ(diffs.size(), 4u);
  for (size_t n = 2; n <= diffs.size(); ++n) q.looks.push_back(Look(q.design, {diffs.begin(), diffs.begin() + n}, q.resolution));
  ASSERT_TRUE(q.looks.back().excludes_zero);
  c.sequential = q;
  const std::string table = ComparisonTable(c);
  EXPECT_NE(table.find("better (sequential: the interval excludes 0 at 4 seeds)"), std::string::npos) << table;
  EXPECT_NE(table.find("Sequential seeds on val bits/byte: 4 of at most 10 seed pairs"), std::string::npos) << table;
  // The row shows the design's half-width, wider than the fixed-sample one.
  const SequentialLook& last = q.looks.back();
  EXPECT_NE(table.find(absl::StrFormat("%+.4f]", last.mean + last.half_width)), std::string::npos) << table;
  const std::string json = SummaryJson(c);
  EXPECT_NE(json.find("\"stopped_because\": \"the interval excludes 0 at 4 seeds\""), std::string::npos) << json;
  EXPECT_THROW(PairedDifferences(c, "no such row"), std::invalid_argument);
}

}  // namespace
}  // namespace tinylm::testing
