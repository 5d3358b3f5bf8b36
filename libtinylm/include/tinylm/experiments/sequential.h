// Sequential seeds: add seed pairs one at a time until the paired interval of the primary metric
// excludes 0 or is narrower than a resolution, without inflating false positives.
//
// Looking after every pair and stopping as soon as the ordinary 95% interval excludes 0 would
// declare a difference that is not there far more often than 5% of the time. Instead every look
// n (from the first seeds to max_n) gets its own critical value c_n from an alpha-spending
// schedule (Lan & DeMets): the share alpha * (n / max_n)^rho of the false-positive budget may be
// spent by look n. Under "no difference" the paired t statistics of successive looks have a
// joint distribution that does not depend on the unknown spread of the differences, so the c_n
// are found once by simulating that distribution (fixed random seed: the same design always
// gives the same values). The intervals mean ± c_n·sd/√n are then "repeated confidence
// intervals": with probability 1 - alpha they cover the true difference at every look at once,
// so the interval reported wherever the procedure stops — interval excludes 0, narrow enough,
// or max_n reached — keeps its 95% coverage, and a false "better"/"worse" happens at most
// alpha of the time. Assumes normally distributed paired differences, as the t-test does.
#pragma once
#include <string>
#include <vector>

namespace tinylm {

struct SequentialDesign {
  int first_n = 0, max_n = 0;  // looks at n = first_n .. max_n pairs
  double alpha = 0.05, rho = 1;
  // critical[n - first_n]: |t| beyond which look n rejects (infinity: no alpha spent there).
  std::vector<double> critical;
  double Critical(int n) const;
};

// The design for looks at first_n..max_n pairs (2 <= first_n <= max_n <= kMaxSequentialSeeds),
// 0 < alpha < 1, rho > 0. Deterministic; takes well under a second.
constexpr int kMaxSequentialSeeds = 200;
SequentialDesign DesignSequential(int first_n, int max_n, double alpha, double rho);

// One look at the paired differences (variant - baseline) seen so far.
struct SequentialLook {
  int n = 0;
  double mean = 0, sd = 0;
  double half_width = -1;  // repeated-confidence half-width; < 0 before first_n pairs
  bool excludes_zero = false;
  bool precise = false;  // half_width <= resolution
  bool Stop() const { return excludes_zero || precise; }
};
SequentialLook Look(const SequentialDesign& d, const std::vector<double>& differences, double resolution);

// Why a sequential run ended, for tables and logs: "the interval excludes 0 at 4 seeds", ...
std::string StopReason(const SequentialDesign& d, const SequentialLook& last, double resolution);

}  // namespace tinylm
