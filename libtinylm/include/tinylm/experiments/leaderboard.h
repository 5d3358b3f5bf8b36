// The leaderboard of an output directory (<output_dir>/index.html): every ablation finished
// there so far, one row each — variant, base, parameters, bits per byte ± sd of both arms, the
// paired difference with its 95% interval, the verdict, tokens/s — read back from each
// ablation's summary.json. One self-contained page: sorted by clicking a column's header,
// filtered by typing or by verdict, with no network.
#pragma once
#include <string>
#include <vector>

#include "results.pb.h"

namespace tinylm {

struct LeaderboardEntry {
  std::string directory;    // the ablation's directory name under the output directory
  std::string finished;     // when its summary.json was written, UTC "YYYY-MM-DD HH:MM"
  proto::AblationSummary summary;
  std::string error;        // set when summary.json could not be read; the row says so
};

// Every <output_dir>/<name>/summary.json of an ablation or single experiment, in name order
// (suites' own summaries, which hold no runs, are left out).
std::vector<LeaderboardEntry> ReadLeaderboard(const std::string& output_dir);

std::string LeaderboardHtml(const std::vector<LeaderboardEntry>& entries, const std::string& output_dir);

// Reads the output directory's summaries and writes its index.html; returns the file's path.
std::string WriteLeaderboard(const std::string& output_dir);

}  // namespace tinylm
