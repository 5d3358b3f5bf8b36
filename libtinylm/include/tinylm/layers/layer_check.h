// The generic layer check: what every layer must satisfy whatever it computes. Used by
// tinylm-plugin-check on any plugin's layers and on the core layers, and by the test harness
// (which adds the comparison with naive references).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "tinylm/layers/layer.h"

namespace tinylm {

struct LayerCheckOptions {
  Shape input{2, 7, 16};   // [B, T, D] (or [B, T] ids when vocab > 0)
  int vocab = 0;           // > 0: the input is token ids
  uint64_t seed = 1;
  double fd_tolerance = 3e-2;  // analytic vs central differences of the fp32 layer (h = 1e-2)
  int fd_probes = 12;          // coordinates probed per tensor
  double decode_tolerance = 1e-5;
  bool check_decode = true;
  // Outputs before position t must not depend on inputs at t (a change at t leaves them
  // bit-identical). Off for layers whose output has no time axis.
  bool check_causality = true;
  // Results at 1 thread and at `threads` must agree to this relative tolerance. Not 0: oneDNN
  // picks matmul kernels by thread count, which changes rounding (measured: up to 1.1e-7).
  int threads = 2;
  double thread_tolerance = 1e-6;
  // The FLOP count must double with the batch (off for probes whose parameters have the
  // batch's shape, as the graph op tests' broadcasting cases).
  bool check_flop_scaling = true;
  bool set_test_values = true;  // parameters to order-1 values (real inits hide errors)
  // Timing (0 iterations: skip).
  Shape timing_input{8, 64, 16};
  int timing_iterations = 0;
};

struct CheckOutcome {
  std::string name;  // "output shape", "input gradient", "gradient of <param>", "decode", ...
  bool ok;
  std::string detail;
};

struct LayerCheckReport {
  std::vector<CheckOutcome> checks;
  double forward_ms = 0, backward_ms = 0;  // median per call at timing_input
  bool ok() const;
  std::string Format(const std::string& title) const;
};

using LayerMaker = std::function<LayerPtr(ParamStore&)>;

// Builds the layer, runs: forward output shape == OutputShape; backward vs central finite
// differences of the layer itself for the input and every parameter; parameter gradients are
// added to what the grad arena held (grad += ..., never grad = ...); bit-identical repeated
// forward/backward, and the same results at 1 thread as at opt.threads; causality (a change at
// position t leaves earlier outputs untouched); incremental decode (a prefix, then one position
// at a time) == full forward in eval mode; and optionally times forward and backward (medians).
LayerCheckReport CheckLayerGeneric(const LayerMaker& make, const LayerCheckOptions& opt);

// Sets every parameter to order-1 test values: matrices uniform(+-1.5/sqrt(fan_in)), vectors
// their init plus uniform(+-0.3). Deterministic in `seed`.
void SetTestValues(ParamStore& store, uint64_t seed);

// A deterministic test input: uniform(-1, 1) floats, or ids below `vocab`.
Tensor TestInput(const Shape& shape, int vocab, uint64_t seed);

// Indices to probe in a tensor of n elements: all when n <= max_count, else a fixed
// pseudo-random sample of max_count (deterministic in salt).
std::vector<int64_t> ProbeIndices(int64_t n, int64_t max_count, uint64_t salt);

// Copies positions [t0, t1) of a [B, T, ...] tensor.
Tensor SliceTime(const Tensor& x, int64_t t0, int64_t t1);

}  // namespace tinylm
