// Statistics of paired seeds: mean ± sd, the paired difference with its 95% Student-t interval,
// and the power analysis behind a verdict — the smallest effect the seeds run could detect and
// how many seeds an effect of the observed size would need (two-sided paired t-test, alpha 0.05,
// power 0.8; Boost.Math's Student-t and non-central t distributions).
#pragma once
#include <vector>

namespace tinylm {

struct Stats {
  int n = 0;
  double mean = 0, sd = 0;
};
Stats Summarize(const std::vector<double>& v);

// Two-sided 95% Student-t quantile for `df` degrees of freedom (NaN for df < 1).
double TQuantile975(int df);

// Power of the two-sided paired t-test at alpha 0.05 with `n` pairs when the true mean
// difference is `effect_in_sd` standard deviations of the differences.
double PairedTestPower(int n, double effect_in_sd);

// Paired difference variant - baseline over seeds.
struct Difference {
  int n = 0;
  double mean = 0, sd = 0;
  double half_width = -1;  // 95% interval half-width; < 0 when it cannot be computed (one seed)
  // The smallest true difference these n seeds detect with power 0.8 (< 0: not computable).
  double detectable = -1;
  // Seeds (pairs) a true difference of the observed size would need for power 0.8: 0 when not
  // computable (one seed, or no observed difference), -1 when more than kMaxSeeds.
  int seeds_needed = 0;
  bool significant() const { return half_width >= 0 && (mean - half_width > 0 || mean + half_width < 0); }
};
constexpr int kMaxSeeds = 1000;

// Two-sided p-value of the paired t-test of "mean difference 0" (NaN with fewer than 2 pairs;
// 0 or 1 when every difference is equal).
double PairedTTestP(const std::vector<double>& differences);

// Holm's step-down adjustment of a family of p-values (same order as given): controls the chance
// of any false positive in the family at alpha when adjusted p < alpha is declared. NaN stays NaN
// and counts as a member of the family.
std::vector<double> HolmAdjusted(const std::vector<double>& p);
Difference PairedDifference(const std::vector<double>& baseline, const std::vector<double>& variant);

}  // namespace tinylm
