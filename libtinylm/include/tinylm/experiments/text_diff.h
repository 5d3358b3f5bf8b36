// A line diff of two texts (longest common subsequence of lines), for showing how the resolved
// specs of an ablation's arms differ line by line (report.html).
#pragma once
#include <string>
#include <vector>

namespace tinylm {

struct DiffLine {
  enum Kind { kSame, kRemoved, kAdded } kind;
  std::string text;
};

// The lines of `before` and `after` in order, each kept, removed or added; a shortest edit.
// Texts of more than 4000 lines each are shown as all removed then all added (the table the LCS
// needs grows with the product of the line counts; specs are far shorter).
std::vector<DiffLine> DiffLines(const std::string& before, const std::string& after);

}  // namespace tinylm
