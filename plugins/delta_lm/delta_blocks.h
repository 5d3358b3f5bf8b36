// The delta LM's layers and data mixer, one file each; the plugin entry (delta_lm.cc) registers
// these factories.
#pragma once

#include <cmath>
#include <memory>

#include "delta_lm.pb.h"
#include "tinylm/plugins/plugin.h"

namespace tinylm::delta_lm {

// The init std of a Dense(in -> out) weight in a delta block: Glorot's or the model's.
inline float DenseInitStd(const LayerBuildContext& ctx, const plugins::DeltaBlockConfig& cfg, int64_t in, int64_t out) {
  return cfg.glorot_init() ? static_cast<float>(std::sqrt(2.0 / static_cast<double>(in + out))) : ctx.init_std;
}

// Option A: memory of k * v read through sigmoid(q) (memory_delta_block.cc).
LayerPtr MakeMemoryDeltaBlock(const LayerBuildContext& ctx, const plugins::DeltaBlockConfig& cfg);
// Option B: norm-free, 8 Dense(d, d) + 3 Dense(d -> 1) gates (gated_delta_block.cc).
LayerPtr MakeGatedDeltaBlock(const LayerBuildContext& ctx, const plugins::DeltaBlockConfig& cfg);
// Option C written as a graph layer (graph_pooled_block.cc), MEAN memory.
LayerPtr MakeGraphPooledBlock(const LayerBuildContext& ctx, const plugins::DeltaBlockConfig& cfg);
// Option C: parameter-free cumulative mixer + 4x FFN (pooled_delta_block.cc).
LayerPtr MakePooledDeltaBlock(const LayerBuildContext& ctx, const plugins::DeltaBlockConfig& cfg);

// The post's non-overlapping records (record_batches.cc).
std::unique_ptr<DataMixer> MakeRecordBatches(const TokenStream* stream, int64_t length);

}  // namespace tinylm::delta_lm
