#include "tinylm/training/metrics_csv.h"

#include <absl/strings/str_format.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <cmath>

#include "tinylm/data/file_writes.h"

namespace tinylm {

const std::vector<std::string> kMetricsCsvColumns = {
    "stage",   "step",      "tokens",  "loss",   "reconstruction_loss", "lr",       "grad_norm",
    "tokens_per_sec", "val_loss", "val_bpb", "val_accuracy", "embedding_spread", "skipped", "diverged"};

std::string CsvCell(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

namespace {

void AppendRow(const std::vector<std::string>& cells, std::string* out) {
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i) *out += ',';
    *out += CsvCell(cells[i]);
  }
  *out += '\n';
}

std::string Cell(const google::protobuf::Value& v) {
  switch (v.kind_case()) {
    case google::protobuf::Value::kNumberValue: {
      const double d = v.number_value();
      // Steps and token counts as integers; everything else with every digit.
      if (d == std::floor(d) && std::fabs(d) < 9.0e15) return absl::StrFormat("%.0f", d);
      return absl::StrFormat("%.17g", d);
    }
    case google::protobuf::Value::kStringValue: return v.string_value();
    case google::protobuf::Value::kBoolValue: return v.bool_value() ? "true" : "false";
    default: return "";  // null (a non-finite value) and anything else: an empty cell
  }
}

}  // namespace

std::string MetricsCsv(std::string_view jsonl, const std::vector<std::string>& prefix_columns,
                       const std::vector<std::string>& prefix, bool header) {
  std::string out;
  if (header) {
    std::vector<std::string> head = prefix_columns;
    head.insert(head.end(), kMetricsCsvColumns.begin(), kMetricsCsvColumns.end());
    AppendRow(head, &out);
  }
  ForEachCompleteLine(jsonl, [&](std::string_view line) {
    google::protobuf::Value v;
    if (!google::protobuf::util::JsonStringToMessage(std::string(line), &v).ok() || !v.has_struct_value()) return;
    const auto& fields = v.struct_value().fields();
    std::vector<std::string> row = prefix;
    for (const std::string& c : kMetricsCsvColumns) {
      const auto it = fields.find(c);
      row.push_back(it == fields.end() ? "" : Cell(it->second));
    }
    AppendRow(row, &out);
  });
  return out;
}

}  // namespace tinylm
