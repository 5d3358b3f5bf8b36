// The pieces of the HTML pages checked without a browser: escaping, markdown tables read back,
// the line diff of specs, report.html's sections, and the leaderboard reading every summary.json
// of an output directory — including ones it cannot read, which become a row saying so.
#include <gtest/gtest.h>

#include "temp_dir.h"
#include "tinylm/experiments/html.h"
#include "tinylm/experiments/leaderboard.h"
#include "tinylm/experiments/report_html.h"
#include "tinylm/experiments/text_diff.h"

namespace tinylm::testing {
namespace {

TEST(Html, EscapesWhatWouldBreakAPage) {
  EXPECT_EQ(HtmlEscape("<script>alert('x & \"y\"')</script>"),
            "&lt;script&gt;alert(&#39;x &amp; &quot;y&quot;&#39;)&lt;/script&gt;");
  const std::string table = HtmlTable({{"a", "b"}, {"<1>", "2"}}, "t", [](size_t, size_t col, const std::string&) {
    return col == 1 ? std::string("num") : std::string();
  });
  EXPECT_NE(table.find("<th>a</th>"), std::string::npos);
  EXPECT_NE(table.find("<td>&lt;1&gt;</td><td class=\"num\">2</td>"), std::string::npos) << table;
}

TEST(Html, MarkdownTableRowsSkipTheRuleAndTheProse) {
  const auto rows = MarkdownTableRows("A sentence.\n\n| figure | x |\n|---|:---:|\n| step | 1.0 |\n\nAfter.\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"figure", "x"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"step", "1.0"}));
}

TEST(TextDiff, AShortestEditWithRemovalsBeforeAdditions) {
  const auto d = DiffLines("a\nb\nc\nd\n", "a\nB\nc\nd\ne\n");
  std::string shown;
  for (const DiffLine& l : d) shown += (l.kind == DiffLine::kSame ? " " : l.kind == DiffLine::kAdded ? "+" : "-") + l.text + "\n";
  EXPECT_EQ(shown, " a\n-b\n+B\n c\n d\n+e\n");
  EXPECT_EQ(DiffLines("same\n", "same\n").size(), 1u);
  EXPECT_EQ(DiffLines("", "x\n").size(), 1u);
}

proto::RunSummary Run(uint64_t seed, double bpb) {
  proto::RunSummary r;
  r.set_seed(seed);
  r.set_params(1000);
  r.set_tokens(4096);
  r.set_val_bpb(bpb);
  r.set_val_loss(bpb * 2);
  r.set_train_tokens_per_sec(5000 + static_cast<double>(seed));
  for (int i = 1; i <= 3; ++i) {
    auto* p = r.add_val_curve();
    p->set_tokens(i * 1000);
    p->set_loss(4.0 - i * 0.1 - bpb);
  }
  return r;
}

Comparison SmallComparison() {
  Comparison c;
  c.name = "wider <mlp>";
  c.base = "base.pbtxt";
  c.changes = {"model.hidden: 24 -> 48"};
  c.baseline_spec = "name: \"base\"\nhidden: 24\n";
  c.variant_spec = "name: \"base\"\nhidden: 48\n";
  for (uint64_t s = 1; s <= 3; ++s) {
    c.baseline.push_back(Run(s, 2.0 + 0.01 * static_cast<double>(s)));
    c.variant.push_back(Run(s, 1.9 + 0.011 * static_cast<double>(s)));
  }
  return c;
}

TEST(ReportHtml, HasEverySectionAndEscapesTheName) {
  const std::string html = ReportHtml(SmallComparison(), "ablate x.pbtxt");
  for (const char* part : {"<h1>wider &lt;mlp&gt;</h1>", "id=\"results\"", "class=\"verdict better\"", "id=\"curves-tokens\"",
                           "<polyline", "id=\"spec-diff\"", "<span class=\"del\">- hidden: 24</span>",
                           "<span class=\"add\">+ hidden: 48</span>", "ablate x.pbtxt"})
    EXPECT_NE(html.find(part), std::string::npos) << part;
  EXPECT_EQ(html.find("http"), html.find("http://www.w3.org/2000/svg")) << "no link leaves the page but the SVG namespace";
}

TEST(Leaderboard, ReadsEverySummaryAndSaysWhichItCannotRead) {
  TempDir dir;
  dir.Write("wider/summary.json", SummaryJson(SmallComparison()));
  dir.Write("broken/summary.json", "{\"name\": \"broken\", \"variant\": [{\"seed\": \"not a number\"}]}");
  dir.Write("my_suite/summary.json", "{\"name\": \"my_suite\", \"metric\": \"val bits/byte\", \"leaderboard\": []}");
  dir.Write("runs/abc/summary.json.not", "");
  const std::vector<LeaderboardEntry> entries = ReadLeaderboard(dir.path());
  ASSERT_EQ(entries.size(), 2u) << "the suite's summary holds no runs and is left out";
  EXPECT_EQ(entries[0].directory, "broken");
  EXPECT_FALSE(entries[0].error.empty());
  EXPECT_EQ(entries[1].directory, "wider");
  EXPECT_TRUE(entries[1].error.empty()) << entries[1].error;
  EXPECT_EQ(entries[1].summary.variant_size(), 3);
  EXPECT_EQ(entries[1].summary.base(), "base.pbtxt");
  EXPECT_TRUE(entries[1].summary.difference().contains("val bits/byte"));
  const std::string html = LeaderboardHtml(entries, dir.path());
  EXPECT_NE(html.find("summary.json unreadable"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"verdict better\""), std::string::npos);
  EXPECT_NE(html.find("<a href=\"wider/report.html\">wider</a>"), std::string::npos);
  EXPECT_EQ(WriteLeaderboard(dir.path()), dir.path() + "/index.html");
  EXPECT_EQ(ReadLeaderboard(dir.path() + "/missing").size(), 0u) << "an output directory not made yet has no ablations";
}

}  // namespace
}  // namespace tinylm::testing
