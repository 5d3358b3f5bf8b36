#include "tinylm/experiments/text_diff.h"

#include <absl/strings/str_split.h>

#include <algorithm>

namespace tinylm {

namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();  // the final newline ends, not adds
  return lines;
}

}  // namespace

std::vector<DiffLine> DiffLines(const std::string& before, const std::string& after) {
  const std::vector<std::string> a = Lines(before), b = Lines(after);
  const size_t n = a.size(), m = b.size();
  std::vector<DiffLine> out;
  if (n > 4000 || m > 4000) {
    for (const auto& l : a) out.push_back({DiffLine::kRemoved, l});
    for (const auto& l : b) out.push_back({DiffLine::kAdded, l});
    return out;
  }
  // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
  std::vector<std::vector<int>> lcs(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = n; i-- > 0;)
    for (size_t j = m; j-- > 0;)
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      out.push_back({DiffLine::kSame, a[i++]});
      ++j;
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out.push_back({DiffLine::kRemoved, a[i++]});  // removals before additions, as diff shows them
    } else {
      out.push_back({DiffLine::kAdded, b[j++]});
    }
  }
  return out;
}

}  // namespace tinylm
