// Suites: several one-change ablations of one base, run together (the shared baseline trains
// once per seed: its runs are cached by content) and ranked on one leaderboard by the effect on
// a primary metric, with 95% intervals and verdicts corrected for multiple comparisons (Holm):
// with ten ablations and no real effect, one in four suites would otherwise show a "better" or
// "worse" by chance.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "tinylm/experiments/report.h"

namespace tinylm {

// The ablations of `base_path`: every .pbtxt file in its directory whose `base:` names it, in
// path order. Throws SpecError when there is none or the base cannot be read.
std::vector<std::string> AblationsOf(const std::string& base_path);

struct Suite {
  std::string name;
  std::string metric = "val bits/byte";  // the row that ranks and decides
  std::vector<std::string> specs;         // ablation spec paths, same order as comparisons
  std::vector<Comparison> comparisons;
};

// One leaderboard line per ablation, best effect first.
struct LeaderboardRow {
  std::string ablation, changes;
  double params = 0;
  int seeds = 0;              // paired seeds where neither arm diverged
  double mean = NAN, half_width = -1, p = NAN, holm_p = NAN;
  std::string verdict;        // better / worse / no detectable difference / ... (Holm, alpha 0.05)
};
std::vector<LeaderboardRow> Leaderboard(const Suite& s);

// The leaderboard as text (printed by ablate --suite), report.md and summary.json.
std::string LeaderboardTable(const Suite& s);
std::string SuiteReportMarkdown(const Suite& s, const std::string& command);
std::string SuiteSummaryJson(const Suite& s);

}  // namespace tinylm
