// A run's metrics.jsonl as CSV (metrics.csv beside it), for spreadsheets and pandas: one row per
// logged training step, evaluation, skipped step or divergence, in fixed columns (kMetricsCsvColumns),
// empty where a row has no such value. Numbers keep all 17 significant digits.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace tinylm {

extern const std::vector<std::string> kMetricsCsvColumns;

// The CSV of `jsonl` (header line included). Lines that are not complete JSON objects (one cut
// short by a kill) are skipped. `prefix` cells, if given, start every row, under `prefix_columns`.
std::string MetricsCsv(std::string_view jsonl, const std::vector<std::string>& prefix_columns = {},
                       const std::vector<std::string>& prefix = {}, bool header = true);

// One CSV cell: quoted when it holds a comma, quote or line break.
std::string CsvCell(std::string_view text);

}  // namespace tinylm
