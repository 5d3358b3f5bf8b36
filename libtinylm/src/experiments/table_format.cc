#include "tinylm/experiments/table_format.h"

#include <absl/strings/str_format.h>
#include <absl/strings/str_join.h>

#include <algorithm>
#include <cmath>

namespace tinylm {

std::string FormatNumber(double v, int decimals) {
  if (decimals < 0) return absl::StrFormat("%.3g", v);
  if (decimals == 0) {
    std::string s = absl::StrFormat("%.0f", v);
    const bool neg = !s.empty() && s[0] == '-';
    std::string digits = neg ? s.substr(1) : s;
    for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
    return (neg ? "-" : "") + digits;
  }
  return absl::StrFormat("%.*f", decimals, v);
}

std::string FormatSigned(double v, int decimals) { return (v >= 0 ? "+" : "") + FormatNumber(v, decimals); }

namespace {

size_t Width(const std::string& s) {  // display width: count UTF-8 code points
  size_t w = 0;
  for (unsigned char ch : s) w += (ch & 0xC0) != 0x80;
  return w;
}

std::string Pad(const std::string& s, size_t w) { return s + std::string(w > Width(s) ? w - Width(s) : 0, ' '); }

}  // namespace

std::string TextTable(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return "";
  std::vector<size_t> w(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], Width(r[i]));
  std::string out;
  for (size_t k = 0; k < rows.size(); ++k) {
    for (size_t i = 0; i < rows[k].size() && i < w.size(); ++i) out += Pad(rows[k][i], w[i] + 2);
    out += "\n";
    if (k == 0) {
      for (size_t i = 0; i < w.size(); ++i) out += std::string(w[i], '-') + "  ";
      out += "\n";
    }
  }
  return out;
}

std::string MarkdownTable(const std::vector<std::vector<std::string>>& rows) {
  std::string md;
  for (size_t k = 0; k < rows.size(); ++k) {
    md += "| " + absl::StrJoin(rows[k], " | ") + " |\n";
    if (k == 0) md += "|" + absl::StrJoin(std::vector<std::string>(rows[k].size(), "---"), "|") + "|\n";
  }
  return md;
}

std::string JsonString(const std::string& v) {
  std::string out = "\"";
  for (unsigned char ch : v) {
    if (ch == '"' || ch == '\\') out += '\\', out += static_cast<char>(ch);
    else if (ch < 0x20) out += absl::StrFormat("\\u%04x", ch);
    else out += static_cast<char>(ch);
  }
  return out + "\"";
}

std::string JsonNumber(double v, bool negative_is_missing) {
  if (!std::isfinite(v) || (negative_is_missing && v < 0)) return "null";
  return absl::StrFormat("%.6g", v);
}

}  // namespace tinylm
