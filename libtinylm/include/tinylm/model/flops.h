// FLOP accounting of a whole model from every layer's own count (Layer::ForwardFlops): what
// `ablate --dry-run` prints per arm, and what the spec benchmarks turn into GFLOP/s.
#pragma once
#include <cstdint>

#include "tinylm/model/model.h"

namespace tinylm {

struct ModelFlops {
  double forward = 0;   // one forward over the whole batch (logits included, loss excluded)
  double training = 0;  // forward + backward (counted as 2x forward) + cross-entropy, and the
                        // reconstruction head's pass when the model has one
  int64_t tokens = 0;   // batch * seq_len
  double forward_per_token() const { return forward / static_cast<double>(tokens); }
  double training_per_token() const { return training / static_cast<double>(tokens); }
};

// Runs one evaluation forward of [batch, seq_len] token-0 ids and sums the layers' counts.
// Allocates the parameters (seed 1) if the store is not allocated yet; values never change a
// count. Throws std::invalid_argument if a layer does not report its FLOPs.
ModelFlops CountModelFlops(Context& ctx, LanguageModel& model, int64_t batch, int64_t seq_len);

}  // namespace tinylm
