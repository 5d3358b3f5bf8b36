// Reader of the golden files written by tools/golden_format.py.
#pragma once
#include <map>
#include <string>

#include "tinylm/tensors/tensor.h"

namespace tinylm::testing {

// name -> tensor (f32 or s32). Throws with the path on a malformed file.
std::map<std::string, Tensor> ReadGolden(const std::string& path);

}  // namespace tinylm::testing
