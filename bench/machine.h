// What the benchmarks measure about the machine and the process: the matmul throughput that
// GFLOP/s figures are compared with, and the peak resident memory of one benchmark.
#pragma once

#include "tinylm/tensors/context.h"

namespace tinylm::bench {

// Best fp32 GFLOP/s of oneDNN matmuls at a training step's shapes (8192 rows; inner and outer
// sizes 128-672, as the 1M models' projections), over about `seconds` of measurement.
double MeasureMatmulPeakGflops(Context& ctx, double seconds = 2.0);

// Resets the kernel's record of this process's peak resident set (/proc/self/clear_refs), so
// that PeakRssMb() afterwards reports the peak since this call. False if not supported.
bool ResetPeakRss();
// VmHWM of /proc/self/status in MB (1e6 bytes); 0 if unavailable.
double PeakRssMb();

}  // namespace tinylm::bench
