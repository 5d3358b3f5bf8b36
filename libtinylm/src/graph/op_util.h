// Helpers shared by the op implementations (private to the library).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#include "tinylm/graph/graph.h"

namespace tinylm::graph_detail {

// Writes contribution f(i) of n elements into a gradient slot: = for its first contribution,
// += after. Parallel above a size where threads pay off; each element is independent, so the
// result does not depend on the thread count.
template <typename F>
void WriteGrad(const GradSlot& s, F f) {
  float* d = s.t->f32();
  const int64_t n = s.t->numel();
  if (s.accumulate) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; ++i) d[i] += f(i);
  } else {
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; ++i) d[i] = f(i);
  }
}

// Adds (or writes) src into a slot of the same element count.
void AddInto(const GradSlot& s, const Tensor& src);

// Normalises a possibly negative axis for a rank; throws naming the op otherwise.
int NormAxis(int axis, int rank, const char* op);

// "[2, 3]"-style shape text for messages.
inline std::string S(const Shape& s) { return ShapeString(s); }

// Throws std::invalid_argument(msg) unless cond.
inline void Require(bool cond, const std::string& msg) {
  if (!cond) throw std::invalid_argument(msg);
}

// Product of dims [from, to).
int64_t Prod(const Shape& s, int from, int to);

}  // namespace tinylm::graph_detail
