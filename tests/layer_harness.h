// One harness checks every layer (after ggml's test-backend-ops): forward against a naive
// double reference, backward against finite differences (of the reference, tightly, and of the
// layer itself, loosely), incremental decode against full forward, and bit-determinism.
#pragma once
#include <functional>
#include <string>

#include "reference.h"
#include "tinylm/layers/layer.h"
#include "tinylm/model/model.h"

namespace tinylm::testing {

struct LayerCase {
  std::string name;
  std::function<LayerPtr(ParamStore&)> make;
  Shape in_shape;
  // Reference forward from the input and every parameter (by name), in double.
  std::function<ref::Vec(const ref::Vec& x, const ref::Params& p)> ref;
  int vocab = 0;             // > 0: input is int32 token ids in [0, vocab)
  double forward_tol = 3e-5; // max |y - ref| / max |ref|
  double grad_tol = 2e-3;    // analytic vs finite differences of the reference (relative)
  bool check_decode = true;
  bool check_causality = true;  // off when outputs are not aligned with inputs in time
  bool check_flop_scaling = true;
  uint64_t seed = 1;
};

// Runs every check, reporting failures through GoogleTest.
void CheckLayer(const LayerCase& c);

// A batch of b x t random token ids below `vocab` (targets: the next counter's draw), a pure
// function of (seed, step).
Batch RandomTokenBatch(int64_t b, int64_t t, int vocab, uint64_t seed, uint64_t step);

}  // namespace tinylm::testing
