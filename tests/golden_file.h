// Reader of the golden files written by tools/golden_format.py.
#pragma once
#include <map>
#include <string>

#include "tinylm/tensors/params.h"
#include "tinylm/tensors/tensor.h"

namespace tinylm::testing {

// name -> tensor (f32 or s32). Throws with the path on a malformed file.
std::map<std::string, Tensor> ReadGolden(const std::string& path);

// The goldens' parameter values from a counter-based generator (must match golden_init in
// tools/make_goldens.py): "embed.weight" 0.1 u, matrices u / sqrt(fan_in), biases 0.1 u, vectors
// 1 + 0.1 u, with u uniform in (-1, 1) from CounterUniform(seed, fnv1a(name), i).
void GoldenInit(ParamStore& store, uint64_t seed);

// max |a - b| / max |b|.
double MaxRelErr(const float* a, const float* b, int64_t n);

}  // namespace tinylm::testing
