#include "tinylm/experiments/html.h"

#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_split.h>
#include <absl/strings/strip.h>
#include <absl/strings/ascii.h>

namespace tinylm {

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    switch (ch) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string HtmlTable(const std::vector<std::vector<std::string>>& rows, const std::string& table_class,
                      const CellClassFn& cell_class) {
  if (rows.empty()) return "";
  std::string out = table_class.empty() ? "<table>\n" : "<table class=\"" + HtmlEscape(table_class) + "\">\n";
  out += "<thead><tr>";
  for (const std::string& h : rows[0]) absl::StrAppend(&out, "<th>", HtmlEscape(h), "</th>");
  out += "</tr></thead>\n<tbody>\n";
  for (size_t i = 1; i < rows.size(); ++i) {
    out += "<tr>";
    for (size_t j = 0; j < rows[i].size(); ++j) {
      const std::string cls = cell_class ? cell_class(i, j, rows[i][j]) : "";
      absl::StrAppend(&out, cls.empty() ? "<td>" : "<td class=\"" + cls + "\">", HtmlEscape(rows[i][j]), "</td>");
    }
    out += "</tr>\n";
  }
  return out + "</tbody></table>\n";
}

std::vector<std::vector<std::string>> MarkdownTableRows(const std::string& markdown) {
  std::vector<std::vector<std::string>> rows;
  for (absl::string_view line : absl::StrSplit(markdown, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, "|")) continue;
    absl::ConsumeSuffix(&line, "|");
    std::vector<std::string> cells;
    bool rule = true;
    for (absl::string_view cell : absl::StrSplit(line, '|')) {
      cell = absl::StripAsciiWhitespace(cell);
      rule = rule && !cell.empty() && cell.find_first_not_of("-:") == absl::string_view::npos;
      cells.emplace_back(cell);
    }
    if (!rule) rows.push_back(std::move(cells));
  }
  return rows;
}

std::string VerdictClass(const std::string& verdict) {
  if (verdict.empty()) return "";
  if (absl::StartsWith(verdict, "better")) return "verdict better";
  if (absl::StartsWith(verdict, "worse")) return "verdict worse";
  return "verdict undecided";
}

namespace {

constexpr char kStyle[] = R"(
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1100px; padding: 0 1em; color: #222; }
body.wide { max-width: none; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.changes { max-width: 24em; font-size: 0.85em; overflow-wrap: anywhere; }
.better { background: #d9f2d9; } .worse { background: #f8d7d7; } .undecided { color: #555; }
.note { background: #fff8e1; border-left: 4px solid #f0c000; padding: 0.4em 0.8em; margin: 0.5em 0; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
.diff .add { background: #e6ffed; } .diff .del { background: #ffeef0; } .diff .same { color: #777; }
blockquote { border-left: 3px solid #ccc; margin: 0.5em 0; padding: 0.2em 0.8em; color: #333; }
svg { max-width: 100%; height: auto; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[aria-sort=ascending]::after { content: " \25B2"; }
table.sortable th[aria-sort=descending]::after { content: " \25BC"; }
)";

}  // namespace

std::string HtmlPage(const std::string& title, const std::string& body, const std::string& script, bool wide) {
  return absl::StrCat("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", HtmlEscape(title),
                      "</title>\n<style>", kStyle, "</style>\n</head>\n", wide ? "<body class=\"wide\">\n" : "<body>\n", body,
                      script.empty() ? "" : "<script>\n" + script + "</script>\n", "</body>\n</html>\n");
}

}  // namespace tinylm
