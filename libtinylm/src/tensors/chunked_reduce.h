// Deterministic parallel reduction of per-row contributions into a [dim] accumulator.
// Rows are cut into fixed-size chunks (independent of the thread count); each chunk sums into
// its own partial, and partials are added in chunk order. Same result for any thread count.
#pragma once
#include <cstdint>
#include <vector>

namespace tinylm {

constexpr int64_t kReduceChunkRows = 256;

// fn(row_begin, row_end, partial) adds the rows' contributions into partial[dim] (zeroed).
template <typename Fn>
void ChunkedColumnReduce(int64_t rows, int64_t dim, float* accum, Fn fn) {
  const int64_t chunks = (rows + kReduceChunkRows - 1) / kReduceChunkRows;
  std::vector<float> partials(chunks * dim, 0.0f);
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t r0 = c * kReduceChunkRows;
    const int64_t r1 = r0 + kReduceChunkRows < rows ? r0 + kReduceChunkRows : rows;
    fn(r0, r1, partials.data() + c * dim);
  }
  for (int64_t c = 0; c < chunks; ++c) {
    const float* p = partials.data() + c * dim;
#pragma omp simd
    for (int64_t j = 0; j < dim; ++j) accum[j] += p[j];
  }
}

}  // namespace tinylm
