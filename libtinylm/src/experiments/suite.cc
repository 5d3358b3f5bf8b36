#include "tinylm/experiments/suite.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_join.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tinylm/experiments/spec.h"
#include "tinylm/experiments/statistics.h"
#include "tinylm/experiments/table_format.h"

namespace tinylm {

namespace fs = std::filesystem;

std::vector<std::string> AblationsOf(const std::string& base_path) {
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(base_path, ec);
  if (ec || !fs::is_regular_file(base)) throw SpecError(base_path + ": cannot open spec file");
  // A `base:` line at the top level; the base chain itself is checked when each spec loads.
  const std::regex base_line(R"re(^\s*base\s*:\s*"([^"]*)")re");
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(base.parent_path())) {
    if (entry.path().extension() != ".pbtxt" || entry.path() == base) continue;
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      std::smatch m;
      if (!std::regex_search(line, m, base_line)) continue;
      if (fs::weakly_canonical(entry.path().parent_path() / m[1].str(), ec) == base) out.push_back(entry.path().string());
      break;
    }
  }
  std::sort(out.begin(), out.end());
  if (out.empty()) throw SpecError(base_path + ": no ablation in " + base.parent_path().string() + " names it as its base");
  return out;
}

std::vector<LeaderboardRow> Leaderboard(const Suite& s) {
  std::vector<LeaderboardRow> rows;
  std::vector<double> p;
  for (const Comparison& c : s.comparisons) {
    LeaderboardRow r;
    r.ablation = c.name;
    r.changes = absl::StrJoin(c.changes, "; ");
    if (!c.variant.empty()) r.params = static_cast<double>(c.variant[0].params());
    std::vector<double> d;
    try {
      d = PairedDifferences(c, s.metric);
    } catch (const std::invalid_argument&) {
      // No such row in this comparison (an evaluator it lacks): not testable, still in the family.
    }
    const Difference diff = PairedDifference(std::vector<double>(d.size(), 0.0), d);
    r.seeds = diff.n;
    r.mean = diff.n > 0 ? diff.mean : NAN;
    r.half_width = diff.half_width;
    r.p = PairedTTestP(d);
    p.push_back(r.p);
    rows.push_back(r);
  }
  const std::vector<double> holm = HolmAdjusted(p);
  int decimals = 4;
  bool lower_is_better = true;
  if (!s.comparisons.empty()) DescribeMetric(s.comparisons[0], s.metric, &decimals, &lower_is_better);
  for (size_t i = 0; i < rows.size(); ++i) {
    LeaderboardRow& r = rows[i];
    r.holm_p = holm[i];
    if (r.seeds == 0) r.verdict = "n/a: no seed without divergence";
    else if (std::isnan(r.p)) r.verdict = "none: 1 seed";
    else if (r.holm_p < 0.05) r.verdict = (r.mean < 0) == lower_is_better ? "better" : "worse";
    else r.verdict = "no detectable difference";
  }
  // Best effect first: the largest improvement in the metric's direction; untestable rows last.
  std::stable_sort(rows.begin(), rows.end(), [&](const LeaderboardRow& a, const LeaderboardRow& b) {
    if (std::isnan(a.mean) != std::isnan(b.mean)) return std::isnan(b.mean);
    return lower_is_better ? a.mean < b.mean : a.mean > b.mean;
  });
  return rows;
}

namespace {

std::vector<std::vector<std::string>> Cells(const Suite& s, bool with_changes) {
  int decimals = 4;
  bool lower_is_better = true;
  if (!s.comparisons.empty()) DescribeMetric(s.comparisons[0], s.metric, &decimals, &lower_is_better);
  std::vector<std::string> header = {"rank", "ablation"};
  if (with_changes) header.push_back("changes");
  for (const char* h : {"parameters", "seeds"}) header.push_back(h);
  header.push_back(s.metric + " variant - baseline [95% CI]");
  for (const char* h : {"p", "Holm p", "verdict (Holm, alpha 0.05)"}) header.push_back(h);
  std::vector<std::vector<std::string>> cells = {header};
  int rank = 0;
  for (const LeaderboardRow& r : Leaderboard(s)) {
    std::vector<std::string> row = {absl::StrCat(++rank), r.ablation};
    if (with_changes) row.push_back(r.changes);
    row.push_back(FormatNumber(r.params, 0));
    row.push_back(absl::StrCat(r.seeds));
    std::string diff = std::isnan(r.mean) ? "n/a" : FormatSigned(r.mean, decimals);
    if (r.half_width >= 0)
      diff += " [" + FormatSigned(r.mean - r.half_width, decimals) + ", " + FormatSigned(r.mean + r.half_width, decimals) + "]";
    row.push_back(diff);
    row.push_back(std::isnan(r.p) ? "n/a" : absl::StrFormat("%.3g", r.p));
    row.push_back(std::isnan(r.holm_p) ? "n/a" : absl::StrFormat("%.3g", r.holm_p));
    row.push_back(r.verdict);
    cells.push_back(row);
  }
  return cells;
}

constexpr char kHowToRead[] =
    "Ranked by the mean paired difference on the primary metric, best first. The interval is each ablation's own 95% "
    "Student-t interval; p is its paired t-test. With several ablations some will cross p < 0.05 by chance, so the "
    "verdict uses Holm's step-down correction over the whole suite: \"better\"/\"worse\" only when the Holm-adjusted "
    "p is below 0.05, which keeps the chance of any false verdict in the suite at most 5%.";

}  // namespace

std::string LeaderboardTable(const Suite& s) { return TextTable(Cells(s, false)); }

std::string SuiteReportMarkdown(const Suite& s, const std::string& command) {
  std::string md = absl::StrCat("# Suite ", s.name, "\n\nReproduce: `", command, "`\n\n", MarkdownTable(Cells(s, true)), "\n",
                                kHowToRead, "\n\nEach ablation's own report (tables, curves, samples):\n\n");
  for (const Comparison& c : s.comparisons) absl::StrAppend(&md, "- [", c.name, "](../", c.name, "/report.md)\n");
  return md;
}

std::string SuiteSummaryJson(const Suite& s) {
  std::vector<std::string> rows;
  for (const LeaderboardRow& r : Leaderboard(s))
    rows.push_back(absl::StrFormat(
        "{\"ablation\": %s, \"changes\": %s, \"parameters\": %s, \"seeds\": %d, \"mean\": %s, \"ci95_half_width\": %s, "
        "\"p\": %s, \"holm_p\": %s, \"verdict\": %s}",
        JsonString(r.ablation), JsonString(r.changes), JsonNumber(r.params), r.seeds, JsonNumber(r.mean),
        JsonNumber(r.half_width, true), JsonNumber(r.p), JsonNumber(r.holm_p), JsonString(r.verdict)));
  return absl::StrCat("{\n  \"suite\": ", JsonString(s.name), ",\n  \"metric\": ", JsonString(s.metric),
                      ",\n  \"leaderboard\": [\n    ", absl::StrJoin(rows, ",\n    "), "\n  ]\n}\n");
}

}  // namespace tinylm
