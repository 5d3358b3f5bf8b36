#include "tinylm/experiments/leaderboard.h"

#include <sys/stat.h>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_join.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iterator>

#include "tinylm/data/file_writes.h"
#include "tinylm/experiments/html.h"
#include "tinylm/experiments/statistics.h"
#include "tinylm/experiments/table_format.h"

namespace tinylm {

namespace fs = std::filesystem;

namespace {

constexpr char kDecidingMetric[] = "val bits/byte";

std::string ModifiedUtc(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "";
  std::tm tm;
  gmtime_r(&st.st_mtime, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

// Mean and sd of a value over an arm's runs that did not diverge.
Stats Healthy(const google::protobuf::RepeatedPtrField<proto::RunSummary>& runs,
              const std::function<double(const proto::RunSummary&)>& get) {
  std::vector<double> v;
  for (const auto& r : runs)
    if (!r.has_divergence()) v.push_back(get(r));
  return Summarize(v);
}

// A table cell: its text, and the number it sorts by (none: sorted as text; NaN: missing,
// always last).
struct Cell {
  std::string html;
  bool numeric = false;
  double value = NAN;
  std::string cls;
  std::string title;  // shown on hover
};

Cell Number(double v, const std::string& text, const std::string& cls = "num") { return {HtmlEscape(text), true, v, cls, ""}; }
Cell Text(const std::string& text, const std::string& cls = "") { return {HtmlEscape(text), false, NAN, cls, ""}; }
Cell Raw(const std::string& html) { return {html, false, NAN, "", ""}; }

Cell MeanSd(const Stats& s, int decimals) {
  if (s.n == 0) return Number(NAN, "");
  return Number(s.mean, s.n == 1 ? FormatNumber(s.mean, decimals)
                                 : FormatNumber(s.mean, decimals) + " ± " + FormatNumber(s.sd, decimals));
}

constexpr char kHeader[][32] = {"ablation", "base", "changes", "params (baseline)", "params (variant)", "seeds",
                                "bits/byte baseline", "bits/byte variant", "Δ bits/byte [95% CI]", "verdict",
                                "tokens/s baseline", "tokens/s variant", "finished (UTC)"};

std::vector<Cell> Row(const LeaderboardEntry& e) {
  const proto::AblationSummary& s = e.summary;
  const std::string link = "<a href=\"" + HtmlEscape(e.directory) + "/report.html\">" + HtmlEscape(e.directory) + "</a>";
  if (!e.error.empty()) {
    std::vector<Cell> row = {Raw(link), Text(""), Text("summary.json unreadable: " + e.error)};
    row.resize(std::size(kHeader), Number(NAN, ""));
    return row;
  }
  const bool compare = !s.baseline().empty();
  const auto bpb = [](const proto::RunSummary& r) { return r.val_bpb(); };
  const auto speed = [](const proto::RunSummary& r) { return r.train_tokens_per_sec(); };
  const auto params = [](const google::protobuf::RepeatedPtrField<proto::RunSummary>& runs) {
    return runs.empty() ? Number(NAN, "") : Number(static_cast<double>(runs[0].params()), FormatNumber(runs[0].params(), 0));
  };
  int diverged = 0;
  for (const auto* arm : {&s.baseline(), &s.variant()})
    for (const auto& r : *arm) diverged += r.has_divergence();
  std::vector<Cell> row = {Raw(link), Text(compare ? s.base() : "(single experiment)"), Text(absl::StrJoin(s.changes(), "; "), "changes"),
                           params(s.baseline()), params(s.variant()),
                           Number(s.variant_size(), absl::StrCat(s.variant_size(), diverged ? absl::StrCat(" (", diverged, " diverged)") : "")),
                           MeanSd(Healthy(s.baseline(), bpb), 4), MeanSd(Healthy(s.variant(), bpb), 4)};
  const auto d = s.difference().find(kDecidingMetric);
  if (compare && d != s.difference().end()) {
    const proto::MetricDifference& m = d->second;
    const std::string interval = m.has_ci95_half_width()
                                     ? " [" + FormatSigned(m.mean() - m.ci95_half_width(), 4) + ", " +
                                           FormatSigned(m.mean() + m.ci95_half_width(), 4) + "]"
                                     : " [n/a]";
    row.push_back(m.has_mean() ? Number(m.mean(), FormatSigned(m.mean(), 4) + interval) : Number(NAN, "n/a"));
    // The verdict's words in the cell, its reasons ("detects ±x; needs N seeds") on hover.
    const std::string& v = m.verdict();
    const size_t paren = v.find(" (");
    Cell cell = Text(v.substr(0, paren), VerdictClass(v));
    if (paren != std::string::npos) cell.title = v;
    row.push_back(cell);
  } else {
    row.push_back(Number(NAN, ""));
    row.push_back(Text(""));
  }
  row.push_back(MeanSd(Healthy(s.baseline(), speed), 0));
  row.push_back(MeanSd(Healthy(s.variant(), speed), 0));
  row.push_back(Text(e.finished));
  return row;
}

// Sorting by a header click (again: reversed), filtering by text and verdict; numbers sort by
// their data-v value and missing values stay last either way.
constexpr char kScript[] = R"(
(function () {
  var table = document.getElementById('leaderboard');
  var body = table.tBodies[0];
  var headers = table.tHead.rows[0].cells;
  var rows = Array.prototype.slice.call(body.rows);
  function key(td) {
    var v = td.getAttribute('data-v');
    if (v !== null) return v === '' ? null : Number(v);
    var t = td.textContent.trim().toLowerCase();
    return t === '' ? null : t;
  }
  Array.prototype.forEach.call(headers, function (th, col) {
    th.addEventListener('click', function () {
      var ascending = th.getAttribute('aria-sort') !== 'ascending';
      Array.prototype.forEach.call(headers, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      var sorted = Array.prototype.slice.call(body.rows);
      sorted.sort(function (a, b) {
        var x = key(a.cells[col]), y = key(b.cells[col]);
        if (x === null || y === null) return (x === null) - (y === null);
        var r = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return ascending ? r : -r;
      });
      sorted.forEach(function (r) { body.appendChild(r); });
    });
  });
  var text = document.getElementById('filter'), verdict = document.getElementById('verdict');
  var count = document.getElementById('shown');
  function filter() {
    var q = text.value.trim().toLowerCase(), v = verdict.value, shown = 0;
    rows.forEach(function (r) {
      var cell = r.querySelector('td.verdict');
      var ok = r.textContent.toLowerCase().indexOf(q) >= 0 && (v === '' || (cell !== null && cell.classList.contains(v)));
      r.hidden = !ok;
      shown += ok ? 1 : 0;
    });
    count.textContent = shown + ' of ' + rows.length + ' shown';
  }
  text.addEventListener('input', filter);
  verdict.addEventListener('change', filter);
  filter();
})();
)";

}  // namespace

std::vector<LeaderboardEntry> ReadLeaderboard(const std::string& output_dir) {
  std::vector<LeaderboardEntry> out;
  std::error_code ec;
  for (fs::directory_iterator it(output_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path summary = it->path() / "summary.json";
    const std::string text = ReadFileIfExists(summary.string());
    if (text.empty()) continue;
    LeaderboardEntry e;
    e.directory = it->path().filename().string();
    e.finished = ModifiedUtc(summary.string());
    google::protobuf::util::JsonParseOptions jo;
    jo.ignore_unknown_fields = true;
    const auto status = google::protobuf::util::JsonStringToMessage(text, &e.summary, jo);
    if (!status.ok()) e.error = std::string(status.message());
    else if (e.summary.variant().empty()) continue;  // a suite's summary: its ablations have their own
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.directory < b.directory; });
  return out;
}

std::string LeaderboardHtml(const std::vector<LeaderboardEntry>& entries, const std::string& output_dir) {
  std::string b = absl::StrCat("<h1>Ablations in ", HtmlEscape(output_dir), "</h1>\n<p>Every ablation finished here, read from "
                               "its summary.json. Click a column's header to sort by it (again to reverse). Bits per byte: "
                               "mean ± sd over the seeds that did not diverge; the difference is paired by seed, with its "
                               "95% interval and the verdict of the ablation's report.</p>\n");
  absl::StrAppend(&b, "<p><label>Filter <input id=\"filter\" type=\"search\" placeholder=\"name, base, change...\"></label> "
                      "<label>Verdict <select id=\"verdict\"><option value=\"\">any</option><option value=\"better\">better"
                      "</option><option value=\"worse\">worse</option><option value=\"undecided\">no detectable difference"
                      "</option></select></label> <span id=\"shown\"></span></p>\n");
  b += "<table class=\"sortable\" id=\"leaderboard\">\n<thead><tr>";
  for (const char* h : kHeader) absl::StrAppend(&b, "<th>", HtmlEscape(h), "</th>");
  b += "</tr></thead>\n<tbody>\n";
  for (const LeaderboardEntry& e : entries) {
    b += "<tr>";
    for (const Cell& c : Row(e)) {
      b += "<td";
      if (!c.cls.empty()) absl::StrAppend(&b, " class=\"", c.cls, "\"");
      if (!c.title.empty()) absl::StrAppend(&b, " title=\"", HtmlEscape(c.title), "\"");
      if (c.numeric) absl::StrAppend(&b, " data-v=\"", std::isfinite(c.value) ? absl::StrFormat("%.17g", c.value) : "", "\"");
      absl::StrAppend(&b, ">", c.html, "</td>");
    }
    b += "</tr>\n";
  }
  b += "</tbody></table>\n";
  if (entries.empty()) b += "<p>No ablation has finished here yet.</p>\n";
  return HtmlPage("tinylm ablations: " + output_dir, b, kScript, /*wide=*/true);
}

std::string WriteLeaderboard(const std::string& output_dir) {
  const std::string path = (fs::path(output_dir) / "index.html").string();
  WriteFileAtomic(path, LeaderboardHtml(ReadLeaderboard(output_dir), output_dir));
  return path;
}

}  // namespace tinylm
