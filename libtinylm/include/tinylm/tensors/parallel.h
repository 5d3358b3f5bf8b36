// Loops over rows on the OpenMP team only when that pays.
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace tinylm {

// Runs body(i) for i in [0, n): on the OpenMP team when there are at least `min_parallel`
// iterations and the team has more than one thread, else as a plain loop that does not enter
// OpenMP at all. Why not `omp parallel for if(...)`: libgomp starts and ends even a one-thread
// or if(false) region with a futex system call (measured: about 40 per decoded token of the
// 1M transformer, a fifth of batch-1 generation's time).
template <typename Body>
inline void ParallelFor(int64_t n, int64_t min_parallel, const Body& body) {
  if (n >= min_parallel && n > 1 && omp_get_max_threads() > 1) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) body(i);
  } else {
    for (int64_t i = 0; i < n; ++i) body(i);
  }
}

// Runs body(begin, end) over [0, n) in chunks of `chunk` elements (the unit of an elementwise
// pass: each chunk one vectorised loop), on the team when there are at least `min_chunks`.
template <typename Body>
inline void ParallelChunks(int64_t n, int64_t chunk, int64_t min_chunks, const Body& body) {
  ParallelFor((n + chunk - 1) / chunk, min_chunks,
              [&](int64_t c) { body(c * chunk, std::min(n, (c + 1) * chunk)); });
}

}  // namespace tinylm
