#include "tinylm/experiments/sequential.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>

#include "tinylm/experiments/statistics.h"

namespace tinylm {

namespace {

// Simulated sequences of paired differences. The boundaries are estimated from them, so the alpha
// a design really spends is off by the simulation's error, a binomial standard error of
// sqrt(alpha (1 - alpha) / kPaths) (0.00034 at 0.05). The design spends alpha less two such
// errors, so that its real false-positive rate stays at most alpha.
constexpr int kPaths = 400000;
constexpr uint64_t kDesignSeed = 20261205;

// Standard normal by Box-Muller over mt19937_64: reproducible across standard libraries, which
// std::normal_distribution is not.
class Normal {
 public:
  explicit Normal(uint64_t seed) : rng_(seed) {}
  double operator()() {
    if (have_spare_) {
      have_spare_ = false;
      return spare_;
    }
    const double u1 = ((rng_() >> 11) + 1) * 0x1.0p-53;  // (0, 1]
    const double u2 = (rng_() >> 11) * 0x1.0p-53;        // [0, 1)
    const double r = std::sqrt(-2 * std::log(u1));
    spare_ = r * std::sin(2 * M_PI * u2);
    have_spare_ = true;
    return r * std::cos(2 * M_PI * u2);
  }

 private:
  std::mt19937_64 rng_;
  double spare_ = 0;
  bool have_spare_ = false;
};

double PairedT(double sum, double sumsq, int n) {
  const double mean = sum / n;
  const double var = std::max(0.0, (sumsq - n * mean * mean) / (n - 1));
  return var > 0 ? mean / std::sqrt(var / n) : (mean == 0 ? 0 : std::numeric_limits<double>::infinity());
}

}  // namespace

double SequentialDesign::Critical(int n) const {
  if (n < first_n || n > max_n) return std::numeric_limits<double>::infinity();
  return critical[n - first_n];
}

SequentialDesign DesignSequential(int first_n, int max_n, double alpha, double rho) {
  if (first_n < 2 || max_n < first_n || max_n > kMaxSequentialSeeds)
    throw std::invalid_argument(absl::StrCat("sequential design needs 2 <= first seeds <= max seeds <= ",
                                             kMaxSequentialSeeds, " (got ", first_n, " and ", max_n, ")"));
  if (!(alpha > 0 && alpha < 1) || !(rho > 0)) throw std::invalid_argument("sequential design needs 0 < alpha < 1 and rho > 0");
  SequentialDesign d;
  d.first_n = first_n;
  d.max_n = max_n;
  d.alpha = alpha;
  d.rho = rho;
  // One path per simulated sequential experiment under "no difference": running sums of N(0, 1)
  // differences. A path that crosses a look's boundary has rejected and leaves the pool.
  std::vector<double> sum(kPaths, 0), sumsq(kPaths, 0);
  std::vector<char> alive(kPaths, 1);
  Normal normal(kDesignSeed);
  const double budget = alpha - 2 * std::sqrt(alpha * (1 - alpha) / kPaths);
  int64_t rejected = 0;
  std::vector<double> abs_t;
  for (int n = 1; n <= max_n; ++n) {
    for (int p = 0; p < kPaths; ++p) {
      const double x = normal();  // drawn for every path, alive or not: paths stay independent of looks
      sum[p] += x;
      sumsq[p] += x * x;
    }
    if (n < first_n) continue;
    // Rejections allowed by this look: the cumulative spending target minus those so far.
    const double spent = budget * std::pow(static_cast<double>(n) / max_n, rho);
    const int64_t target = std::llround(spent * kPaths) - rejected;
    abs_t.clear();
    for (int p = 0; p < kPaths; ++p)
      if (alive[p]) abs_t.push_back(std::fabs(PairedT(sum[p], sumsq[p], n)));
    double c = std::numeric_limits<double>::infinity();
    if (target > 0 && target < static_cast<int64_t>(abs_t.size())) {
      // Exactly `target` alive paths lie beyond the (target+1)-th largest |t|.
      std::nth_element(abs_t.begin(), abs_t.begin() + target, abs_t.end(), std::greater<double>());
      c = abs_t[target];
    }
    d.critical.push_back(c);
    for (int p = 0; p < kPaths; ++p)
      if (alive[p] && std::fabs(PairedT(sum[p], sumsq[p], n)) > c) alive[p] = 0, ++rejected;
  }
  return d;
}

SequentialLook Look(const SequentialDesign& d, const std::vector<double>& differences, double resolution) {
  SequentialLook l;
  const Stats s = Summarize(differences);
  l.n = s.n;
  l.mean = s.mean;
  l.sd = s.sd;
  if (s.n < d.first_n || s.n > d.max_n) return l;
  const double c = d.Critical(s.n);
  if (std::isinf(c)) return l;
  l.half_width = c * s.sd / std::sqrt(static_cast<double>(s.n));
  l.excludes_zero = l.mean - l.half_width > 0 || l.mean + l.half_width < 0;
  l.precise = l.half_width <= resolution;
  return l;
}

std::string StopReason(const SequentialDesign& d, const SequentialLook& last, double resolution) {
  const std::string seeds = absl::StrCat(last.n, last.n == 1 ? " seed" : " seeds");
  if (last.excludes_zero) return "the interval excludes 0 at " + seeds;
  if (last.precise) return absl::StrFormat("the interval is within ±%g at %s", resolution, seeds);
  if (last.n >= d.max_n) return absl::StrCat("the maximum of ", d.max_n, " seeds was reached");
  return absl::StrCat("stopped at ", seeds, " before the maximum of ", d.max_n, " (diverged seeds)");
}

}  // namespace tinylm
