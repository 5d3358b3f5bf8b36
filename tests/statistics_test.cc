// Statistics behind ablate's verdicts: Student-t quantiles match the tables, the paired t-test's
// power is alpha without an effect and agrees with a simulation of the test itself, and the
// detectable effect and seeds needed sit exactly where the power crosses 0.8.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tinylm/experiments/statistics.h"

namespace tinylm::testing {
namespace {

TEST(Statistics, StudentTQuantilesMatchTheTables) {
  EXPECT_NEAR(TQuantile975(1), 12.706, 5e-4);
  EXPECT_NEAR(TQuantile975(2), 4.303, 5e-4);
  EXPECT_NEAR(TQuantile975(5), 2.571, 5e-4);
  EXPECT_NEAR(TQuantile975(10), 2.228, 5e-4);
  EXPECT_NEAR(TQuantile975(30), 2.042, 5e-4);
  EXPECT_NEAR(TQuantile975(1000), 1.962, 5e-4);
  EXPECT_TRUE(std::isnan(TQuantile975(0)));
}

// Share of simulated paired t-tests (n pairs, differences ~ N(effect, 1)) that reject at 0.05.
double SimulatedRejections(int n, double effect, int trials, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(effect, 1.0);
  const double crit = TQuantile975(n - 1);
  int rejected = 0;
  for (int t = 0; t < trials; ++t) {
    std::vector<double> diff(n);
    for (double& x : diff) x = noise(rng);
    const Stats d = Summarize(diff);
    rejected += std::fabs(d.mean) / (d.sd / std::sqrt(static_cast<double>(n))) > crit;
  }
  return static_cast<double>(rejected) / trials;
}

TEST(Statistics, PowerIsAlphaWithoutAnEffectAndMatchesASimulation) {
  EXPECT_NEAR(PairedTestPower(5, 0.0), 0.05, 1e-9);
  EXPECT_NEAR(PairedTestPower(30, 0.0), 0.05, 1e-9);
  EXPECT_LT(PairedTestPower(5, 0.5), PairedTestPower(5, 1.0));
  EXPECT_LT(PairedTestPower(5, 1.0), PairedTestPower(10, 1.0));
  // 20,000 trials: a standard error of at most 0.0035.
  for (const auto& [n, effect] : std::vector<std::pair<int, double>>{{3, 0.0}, {6, 1.2}, {10, 0.6}, {4, 2.0}})
    EXPECT_NEAR(SimulatedRejections(n, effect, 20000, 7 + n), PairedTestPower(n, effect), 0.012)
        << n << " pairs, effect " << effect;
}

TEST(Statistics, DetectableEffectAndSeedsNeededSitWherePowerCrossesPointEight) {
  const std::vector<double> base = {2.00, 2.10, 1.95, 2.05, 2.02};
  const std::vector<double> var = {1.98, 2.05, 1.96, 2.01, 2.02};
  const Difference d = PairedDifference(base, var);
  ASSERT_EQ(d.n, 5);
  EXPECT_GT(d.half_width, 0.0);
  EXPECT_NEAR(PairedTestPower(5, d.detectable / d.sd), 0.8, 1e-6);
  const double observed = std::fabs(d.mean) / d.sd;
  ASSERT_GT(d.seeds_needed, 2);
  EXPECT_GE(PairedTestPower(d.seeds_needed, observed), 0.8);
  EXPECT_LT(PairedTestPower(d.seeds_needed - 1, observed), 0.8);
  // One seed: no interval, nothing detectable; a tiny effect needs more seeds than the cap.
  EXPECT_LT(PairedDifference({1.0}, {2.0}).half_width, 0.0);
  EXPECT_EQ(PairedDifference({1.0}, {2.0}).seeds_needed, 0);
  EXPECT_EQ(PairedDifference({0, 0, 0, 0}, {1, -1, 1.001, -1}).seeds_needed, -1);
}

TEST(Statistics, PairedTTestPAndHolmAdjustment) {
  // {1..5}: t = 3 / (1.5811 / sqrt 5) = 4.243 with 4 df, between the tables' 0.02 (3.747) and
  // 0.01 (4.604) two-sided points.
  EXPECT_GT(PairedTTestP({1, 2, 3, 4, 5}), 0.01);
  EXPECT_LT(PairedTTestP({1, 2, 3, 4, 5}), 0.02);
  EXPECT_NEAR(PairedTTestP({-1, -2, -3, -4, -5}), PairedTTestP({1, 2, 3, 4, 5}), 1e-15);
  EXPECT_NEAR(PairedTTestP({0.0, 2.0}), 0.5, 1e-9);  // t = 1 with 1 df: p = 0.5
  EXPECT_TRUE(std::isnan(PairedTTestP({1.0})));
  EXPECT_EQ(PairedTTestP({0.0, 0.0, 0.0}), 1.0);
  // Holm: sorted p 0.01, 0.02, 0.04 in a family of 3 -> 0.03, 0.04, 0.04 (monotone); NaN stays.
  const std::vector<double> adj = HolmAdjusted({0.04, 0.01, NAN, 0.02});
  EXPECT_NEAR(adj[1], 0.04, 1e-12);  // 4 x 0.01
  EXPECT_NEAR(adj[3], 0.06, 1e-12);  // 3 x 0.02
  EXPECT_NEAR(adj[0], 0.08, 1e-12);  // 2 x 0.04
  EXPECT_TRUE(std::isnan(adj[2]));
  EXPECT_NEAR(HolmAdjusted({0.5, 0.3})[0], 0.6, 1e-12);  // max(2 x 0.3, 0.5) = 0.6 for both
  EXPECT_NEAR(HolmAdjusted({0.5, 0.3})[1], 0.6, 1e-12);
}

}  // namespace
}  // namespace tinylm::testing
