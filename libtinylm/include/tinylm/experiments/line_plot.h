// A self-contained SVG line plot (no scripts, no fonts to fetch): the learning curves against
// tokens or FLOPs and the learning-rate sweep of report.md are drawn with it.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace tinylm {

struct PlotSeries {
  std::vector<std::pair<double, double>> points;  // (x, y)
  std::string color = "#1f77b4";
  double width = 1.5, opacity = 1;
  bool markers = false;
  std::string legend;  // empty: not in the legend
};

struct LinePlot {
  std::string title, x_label;
  bool log_x = false;
  // Clip the y range to [min, min + y_span] (early training losses dwarf the rest); 0: no clip.
  double y_span = 0;
  std::vector<PlotSeries> series;
};

std::string RenderSvg(const LinePlot& plot);

// 1.2k, 3.4M, 5.6G, 7.8T (three significant digits; `separator` between number and prefix):
// axis labels and tables of counts.
std::string SiNumber(double v, const char* separator = "");

}  // namespace tinylm
