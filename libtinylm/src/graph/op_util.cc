#include "op_util.h"

namespace tinylm::graph_detail {

void AddInto(const GradSlot& s, const Tensor& src) {
  const float* p = src.f32();
  WriteGrad(s, [p](int64_t i) { return p[i]; });
}

int NormAxis(int axis, int rank, const char* op) {
  const int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw std::invalid_argument(std::string(op) + ": axis " + std::to_string(axis) + " out of range for rank " +
                                std::to_string(rank));
  return a;
}

int64_t Prod(const Shape& s, int from, int to) {
  int64_t p = 1;
  for (int i = from; i < to; ++i) p *= s[i];
  return p;
}

}  // namespace tinylm::graph_detail
