#include "tinylm/experiments/report_html.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_split.h>

#include "tinylm/experiments/html.h"
#include "tinylm/experiments/text_diff.h"

namespace tinylm {

namespace {

// The results table: numbers right-aligned, verdicts coloured by what they say.
std::string ResultsTable(const Comparison& c) {
  const bool compare = !c.baseline.empty();
  return HtmlTable(ComparisonRows(c), "results", [&](size_t, size_t col, const std::string& text) -> std::string {
    if (compare && col == 4) return VerdictClass(text);
    return col > 0 ? "num" : "";
  });
}

std::string Notes(const Comparison& c) {
  std::string out;
  auto note = [&](const std::string& kind, const std::string& text) {
    absl::StrAppend(&out, "<p class=\"note\"><b>", HtmlEscape(kind), "</b> ", HtmlEscape(text), "</p>\n");
  };
  for (const std::string& w : CollapseWarnings(c)) note("Warning:", w);
  for (const std::string& d : DivergenceNotes(c)) note("Diverged:", d + " (left out of the table).");
  for (const std::string& l : c.lost) note("Lost:", l + " (its seed left out of the table; --resume trains it).");
  if (c.sequential) note("Sequential:", SequentialNote(c));
  if (c.equal_flops) note("Equal compute:", kEqualFlopsNote);
  if (!c.same_tokenizer) note("Tokenizers differ:", kTokenizersDifferNote);
  return out;
}

std::string SpecDiff(const Comparison& c) {
  std::string out = "<pre class=\"diff\" id=\"spec-diff\">";
  for (const DiffLine& l : DiffLines(c.baseline_spec, c.variant_spec)) {
    const char* cls = l.kind == DiffLine::kSame ? "same" : l.kind == DiffLine::kAdded ? "add" : "del";
    const char* sign = l.kind == DiffLine::kSame ? "  " : l.kind == DiffLine::kAdded ? "+ " : "- ";
    absl::StrAppend(&out, "<span class=\"", cls, "\">", sign, HtmlEscape(l.text), "</span>\n");
  }
  return out + "</pre>\n";
}

std::string Samples(const char* title, const std::vector<proto::RunSummary>& runs) {
  if (runs.empty() || runs[0].samples().empty()) return "";
  std::string out = absl::StrFormat("<h3>%s (seed %d)</h3>\n", title, runs[0].seed());
  for (const auto& s : runs[0].samples())
    absl::StrAppendFormat(&out, "<blockquote><b>%s</b>%s<br><small>repetition %.3f</small></blockquote>\n",
                          HtmlEscape(s.prompt()), HtmlEscape(s.text()), s.repetition());
  return out;
}

// A markdown table with sentences around it: the table as a table, each other line a paragraph.
std::string MarkdownAsHtml(const std::string& markdown) {
  std::string out, table;
  auto flush = [&] {
    if (!table.empty()) out += HtmlTable(MarkdownTableRows(table));
    table.clear();
  };
  for (absl::string_view line : absl::StrSplit(markdown, '\n')) {
    if (absl::StartsWith(line, "|")) {
      absl::StrAppend(&table, line, "\n");
      continue;
    }
    flush();
    if (!line.empty()) absl::StrAppend(&out, "<p>", HtmlEscape(std::string(line)), "</p>\n");
  }
  flush();
  return out;
}

std::string Figure(const std::string& id, const std::string& svg, const std::string& caption) {
  return absl::StrCat("<figure id=\"", id, "\">\n", svg, "<figcaption>", HtmlEscape(caption), "</figcaption>\n</figure>\n");
}

}  // namespace

std::string ReportHtml(const Comparison& c, const std::string& command) {
  const bool compare = !c.baseline.empty();
  std::string b = absl::StrCat("<p><a href=\"../index.html\">all ablations</a></p>\n<h1>", HtmlEscape(c.name), "</h1>\n");
  if (!c.description.empty()) absl::StrAppend(&b, "<p>", HtmlEscape(c.description), "</p>\n");
  absl::StrAppend(&b, "<p>Reproduce: <code>", HtmlEscape(command), "</code></p>\n");
  if (compare) {
    absl::StrAppend(&b, "<h2 id=\"changes\">What changes against the baseline</h2>\n<p>Baseline: <code>", HtmlEscape(c.base),
                    "</code></p>\n<ul>\n");
    if (c.changes.empty()) b += "<li>Nothing: variant and baseline are identical.</li>\n";
    for (const std::string& l : c.changes) absl::StrAppend(&b, "<li><code>", HtmlEscape(l), "</code></li>\n");
    b += "</ul>\n";
  }
  absl::StrAppend(&b, "<h2 id=\"results\">Results</h2>\n", ResultsTable(c), Notes(c), "<p><small>", HtmlEscape(kComparisonMethod),
                  "</small></p>\n");
  absl::StrAppend(&b, "<h2 id=\"curves\">Learning curves</h2>\n<p>Every seed of ",
                  compare ? "both arms (baseline blue, variant orange)" : "the run",
                  ": training loss thin, validation loss thick with markers, in nats per token.</p>\n",
                  Figure("curves-tokens", CurvesSvg(c, CurveAxis::kTokens), "Loss against training tokens."));
  if (!c.baseline_flops.empty() || !c.variant_flops.empty())
    b += Figure("curves-flops", CurvesSvg(c, CurveAxis::kFlops), "Loss against training FLOPs (each arm's own cost per token).");
  if (c.lr_sweep)
    absl::StrAppend(&b, "<h2 id=\"lr-sweep\">Learning rates</h2>\n", MarkdownAsHtml(LrSweepTable(c)),
                    Figure("lr-sweep-plot", LrSweepSvg(c), "Final validation loss by learning rate."));
  if (!c.speed.empty())
    absl::StrAppend(&b, "<h2 id=\"speed\">Speed</h2>\n", HtmlTable(MarkdownTableRows(c.speed), "speed"));
  if (!c.compute.empty())
    absl::StrAppend(&b, "<h2 id=\"compute\">Compute</h2>\n<p>FLOPs from every layer's own count; a training token costs the "
                        "forward, a backward counted as twice the forward, and the cross-entropy.</p>\n",
                    HtmlTable(MarkdownTableRows(c.compute), "compute"));
  b += "<h2 id=\"parameters\">Parameters</h2>\n";
  if (compare) absl::StrAppend(&b, "<h3>Baseline</h3>\n<pre>", HtmlEscape(c.baseline_params), "</pre>\n<h3>Variant</h3>\n");
  absl::StrAppend(&b, "<pre>", HtmlEscape(c.variant_params), "</pre>\n");
  absl::StrAppend(&b, "<h2 id=\"samples\">Samples</h2>\n", Samples("baseline", c.baseline),
                  Samples(compare ? "variant" : "run", c.variant));
  b += "<h2 id=\"specs\">Resolved specs</h2>\n";
  if (compare)
    absl::StrAppend(&b, "<p>Baseline to variant, line by line (- baseline only, + variant only):</p>\n", SpecDiff(c),
                    "<details><summary>baseline spec</summary><pre>", HtmlEscape(c.baseline_spec), "</pre></details>\n");
  absl::StrAppend(&b, "<details", compare ? "" : " open", "><summary>", compare ? "variant spec" : "spec", "</summary><pre>",
                  HtmlEscape(c.variant_spec), "</pre></details>\n");
  return HtmlPage(c.name + " — tinylm ablation", b);
}

}  // namespace tinylm
