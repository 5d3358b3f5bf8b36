// report.html of an ablation: everything report.md holds, as one self-contained page to open
// in a browser — the comparison table with verdicts marked, the learning curves of every seed of
// both arms against tokens and against FLOPs (inline SVG), speed, compute, parameters, samples,
// and both arms' resolved specs with their line diff.
#pragma once
#include <string>

#include "tinylm/experiments/report.h"

namespace tinylm {

// `command` reproduces the report (shown at the top, as in report.md).
std::string ReportHtml(const Comparison& c, const std::string& command);

}  // namespace tinylm
