#include "tinylm/experiments/line_plot.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

#include <algorithm>
#include <cmath>

#include "tinylm/experiments/html.h"

namespace tinylm {

std::string SiNumber(double v, const char* separator) {
  const char* unit[] = {"", "k", "M", "G", "T", "P", "E"};
  int i = 0;
  while (std::fabs(v) >= 1000 && i < 6) v /= 1000, ++i;
  return absl::StrFormat("%.3g%s%s", v, separator, unit[i]);
}

std::string RenderSvg(const LinePlot& plot) {
  const double W = 860, H = 480, L = 70, R = 170, T = 40, B = 50;
  double xmin = 1e300, xmax = -1e300, ymin = 1e300, ymax = -1e300;
  auto fx = [&](double x) { return plot.log_x ? std::log10(x) : x; };
  for (const PlotSeries& s : plot.series)
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(y) || (plot.log_x && !(x > 0))) continue;
      xmin = std::min(xmin, fx(x)), xmax = std::max(xmax, fx(x));
      ymin = std::min(ymin, y), ymax = std::max(ymax, y);
    }
  if (xmin > xmax) xmin = 0, xmax = 1;
  if (!plot.log_x) xmin = std::min(xmin, 0.0);
  if (xmax - xmin < 1e-12) xmax = xmin + 1;
  if (ymin > ymax) ymin = 0, ymax = 1;
  if (plot.y_span > 0) ymax = std::min(ymax, ymin + plot.y_span);
  const double pad = 0.05 * (ymax - ymin + 1e-9);
  ymin -= pad;
  ymax += pad;
  auto X = [&](double x) { return L + (W - L - R) * (fx(x) - xmin) / (xmax - xmin); };
  auto Y = [&](double v) { return T + (H - T - B) * (1 - (std::min(v, ymax) - ymin) / (ymax - ymin)); };
  std::string s = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"%.0f\" y=\"22\" font-size=\"15\">%s</text>\n",
      W, H, L, HtmlEscape(plot.title));
  for (int i = 0; i <= 5; ++i) {
    const double v = ymin + (ymax - ymin) * i / 5;
    const double tx = xmin + (xmax - xmin) * i / 5, x = plot.log_x ? std::pow(10.0, tx) : tx;
    absl::StrAppendFormat(&s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, Y(v), W - R, Y(v));
    absl::StrAppendFormat(&s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", L - 6, Y(v) + 4, v);
    absl::StrAppendFormat(&s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", X(x), H - B + 18,
                          plot.log_x ? absl::StrFormat("%.2g", x) : SiNumber(x));
  }
  absl::StrAppendFormat(&s, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#444\"/>\n", L, T,
                        W - L - R, H - T - B);
  absl::StrAppendFormat(&s, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n", (L + W - R) / 2, H - 10,
                        HtmlEscape(plot.x_label));
  double ly = T + 10;
  for (const PlotSeries& sr : plot.series) {
    std::string pts;
    for (const auto& [x, y] : sr.points)
      if (std::isfinite(y) && (!plot.log_x || x > 0)) absl::StrAppendFormat(&pts, "%.1f,%.1f ", X(x), Y(y));
    if (!pts.empty())
      absl::StrAppendFormat(&s, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" stroke-opacity=\"%.2f\" points=\"%s\"/>\n",
                            sr.color, sr.width, sr.opacity, pts);
    if (sr.markers)
      for (const auto& [x, y] : sr.points)
        if (std::isfinite(y) && (!plot.log_x || x > 0))
          absl::StrAppendFormat(&s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", X(x), Y(y), sr.color);
    if (sr.legend.empty()) continue;
    absl::StrAppendFormat(&s, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" stroke-width=\"%.1f\" stroke-opacity=\"%.2f\"/>\n",
                          W - R + 15, ly, W - R + 40, ly, sr.color, std::max(sr.width, 1.5), std::max(sr.opacity, 0.35));
    absl::StrAppendFormat(&s, "<text x=\"%.0f\" y=\"%.0f\">%s</text>\n", W - R + 45, ly + 4, HtmlEscape(sr.legend));
    ly += 22;
  }
  return s + "</svg>\n";
}

}  // namespace tinylm
