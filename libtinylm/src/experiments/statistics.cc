#include "tinylm/experiments/statistics.h"

#include <boost/math/distributions/non_central_t.hpp>
#include <boost/math/distributions/students_t.hpp>

#include <algorithm>
#include <cmath>

namespace tinylm {

Stats Summarize(const std::vector<double>& v) {
  Stats s;
  s.n = static_cast<int>(v.size());
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= s.n;
  if (s.n > 1) {
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(ss / (s.n - 1));
  }
  return s;
}

double TQuantile975(int df) {
  if (df < 1) return NAN;
  return boost::math::quantile(boost::math::students_t(df), 0.975);
}

double PairedTestPower(int n, double effect_in_sd) {
  if (n < 2) return NAN;
  const double crit = TQuantile975(n - 1);
  const boost::math::non_central_t t(n - 1, std::fabs(effect_in_sd) * std::sqrt(static_cast<double>(n)));
  // Rejections on either side of 0.
  return boost::math::cdf(boost::math::complement(t, crit)) + boost::math::cdf(t, -crit);
}

namespace {

constexpr double kPower = 0.8;

// The effect (in sds) at which n pairs reach the target power: bisection on a monotone curve.
double DetectableEffectInSd(int n) {
  double lo = 0, hi = 1;
  while (PairedTestPower(n, hi) < kPower && hi < 1e6) hi *= 2;
  for (int i = 0; i < 60; ++i) {
    const double mid = 0.5 * (lo + hi);
    (PairedTestPower(n, mid) < kPower ? lo : hi) = mid;
  }
  return hi;
}

int SeedsFor(double effect_in_sd) {
  if (!(effect_in_sd > 0)) return 0;
  // Power grows with n: find the first n reaching it by doubling, then bisection.
  int hi = 2;
  while (PairedTestPower(hi, effect_in_sd) < kPower) {
    if (hi >= kMaxSeeds) return -1;
    hi = std::min(2 * hi, kMaxSeeds);
  }
  int lo = std::max(2, hi / 2);
  if (PairedTestPower(lo, effect_in_sd) >= kPower) return lo;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    (PairedTestPower(mid, effect_in_sd) < kPower ? lo : hi) = mid;
  }
  return hi;
}

}  // namespace

Difference PairedDifference(const std::vector<double>& b, const std::vector<double>& v) {
  std::vector<double> d;
  for (size_t i = 0; i < std::min(b.size(), v.size()); ++i) d.push_back(v[i] - b[i]);
  const Stats s = Summarize(d);
  Difference r;
  r.n = s.n;
  r.mean = s.mean;
  r.sd = s.sd;
  if (s.n > 1) {
    r.half_width = TQuantile975(s.n - 1) * s.sd / std::sqrt(static_cast<double>(s.n));
    r.detectable = DetectableEffectInSd(s.n) * s.sd;
    r.seeds_needed = s.sd > 0 ? SeedsFor(std::fabs(s.mean) / s.sd) : (s.mean != 0 ? 2 : 0);
  }
  return r;
}

double PairedTTestP(const std::vector<double>& differences) {
  const Stats s = Summarize(differences);
  if (s.n < 2) return NAN;
  if (s.sd == 0) return s.mean == 0 ? 1.0 : 0.0;
  const double t = std::fabs(s.mean) / (s.sd / std::sqrt(static_cast<double>(s.n)));
  return 2 * boost::math::cdf(boost::math::complement(boost::math::students_t(s.n - 1), t));
}

std::vector<double> HolmAdjusted(const std::vector<double>& p) {
  const size_t m = p.size();
  std::vector<size_t> order(m);
  for (size_t i = 0; i < m; ++i) order[i] = i;
  // Smallest first; NaN (not testable) last, where it only widens the family.
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (std::isnan(p[a]) != std::isnan(p[b])) return std::isnan(p[b]);
    return p[a] < p[b];
  });
  std::vector<double> adjusted(m, NAN);
  double running = 0;
  for (size_t k = 0; k < m; ++k) {
    const size_t i = order[k];
    if (std::isnan(p[i])) continue;
    running = std::max(running, std::min(1.0, static_cast<double>(m - k) * p[i]));
    adjusted[i] = running;
  }
  return adjusted;
}

}  // namespace tinylm
