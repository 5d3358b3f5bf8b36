// Pieces of the self-contained HTML pages tinylm writes (report.html of an ablation, the
// leaderboard index.html of an output directory): escaping, tables, and the page around them.
// Pages carry their style and script inline and fetch nothing, so they open from disk.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace tinylm {

// Text safe inside HTML elements and quoted attributes.
std::string HtmlEscape(const std::string& text);

// A table from rows whose first row is the header; cells are escaped. `cell_class(row, column,
// text)`, when given, names a body cell's class (e.g. "num", "better"), empty for none.
using CellClassFn = std::function<std::string(size_t row, size_t column, const std::string& text)>;
std::string HtmlTable(const std::vector<std::vector<std::string>>& rows, const std::string& table_class = "",
                      const CellClassFn& cell_class = nullptr);

// The rows of a markdown table ("| a | b |" lines, the "|---|" rule skipped); the compute and
// speed tables are built as markdown for report.md and reused here.
std::vector<std::vector<std::string>> MarkdownTableRows(const std::string& markdown);

// The class that colours a verdict cell: "verdict better", "verdict worse", "verdict undecided"
// (any other verdict), or "" for none.
std::string VerdictClass(const std::string& verdict);

// A whole page: title, inline style, `body`, and `script` (may be empty) at the end. A `wide`
// page uses the window's whole width (the leaderboard's many columns).
std::string HtmlPage(const std::string& title, const std::string& body, const std::string& script = "", bool wide = false);

}  // namespace tinylm
