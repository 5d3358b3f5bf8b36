#include "tinylm/evaluation/embedding_spread.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace tinylm {

double EmbeddingSpread(Context& ctx, LanguageModel& model, const Tensor& ids) {
  if (model.net().layers().empty()) throw std::invalid_argument("EmbeddingSpread: the model has no layers");
  const Tensor y = model.net().layers()[0]->Forward(ctx, ids, Mode::kEval);
  const int64_t d = y.dim(-1), rows = y.numel() / d;
  if (rows < 2) return 0.0;
  // Per feature: mean and sum of squares over positions, in double (the collapsed case is a
  // difference of nearly equal numbers).
  std::vector<double> sum(d, 0.0), sq(d, 0.0);
  const float* p = y.f32();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t f = 0; f < d; ++f) {
      const double v = p[r * d + f];
      sum[f] += v;
      sq[f] += v * v;
    }
  double between = 0, total = 0;
  for (int64_t f = 0; f < d; ++f) {
    const double mean = sum[f] / rows;
    between += sq[f] / rows - mean * mean;
    total += sq[f] / rows;
  }
  return total > 0 ? std::max(0.0, between / total) : 0.0;
}

}  // namespace tinylm
