// Formatting shared by the comparison report and suite leaderboards: numbers for tables, aligned
// text and markdown tables, and JSON literals.
#pragma once
#include <string>
#include <vector>

namespace tinylm {

// `decimals` places (0: thousands separated by commas; < 0: three significant digits).
std::string FormatNumber(double v, int decimals);
// The same with an explicit + on non-negative values.
std::string FormatSigned(double v, int decimals);

// Rows (the first is the header) as aligned text columns with a dashed rule under the header,
// widths counted in UTF-8 code points.
std::string TextTable(const std::vector<std::vector<std::string>>& rows);
// The same rows as a markdown table.
std::string MarkdownTable(const std::vector<std::vector<std::string>>& rows);

// A JSON string literal: quotes and backslashes escaped, control characters as \u00XX.
std::string JsonString(const std::string& v);
// A JSON number; null for what JSON cannot hold (NaN, infinity) and, where
// `negative_is_missing`, for negative values meaning "not computable".
std::string JsonNumber(double v, bool negative_is_missing = false);

}  // namespace tinylm
