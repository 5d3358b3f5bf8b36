// The delta LM's layers and data mixer, one file each; the plugin entry (delta_lm.cc) registers
// these factories.
#pragma once

#include <memory>

#include "delta_lm.pb.h"
#include "tinylm/plugin.h"

namespace tinylm::delta_lm {

// Option A: memory of k * v read through sigmoid(q) (memory_delta_block.cc).
LayerPtr MakeMemoryDeltaBlock(const LayerBuildContext& ctx, const plugins::DeltaBlockConfig& cfg);
// Option B: norm-free, 8 Dense(d, d) + 3 Dense(d -> 1) gates (gated_delta_block.cc).
LayerPtr MakeGatedDeltaBlock(const LayerBuildContext& ctx, const plugins::DeltaBlockConfig& cfg);
// Option C: parameter-free cumulative mixer + 4x FFN (pooled_delta_block.cc).
LayerPtr MakePooledDeltaBlock(const LayerBuildContext& ctx, const plugins::DeltaBlockConfig& cfg);

// The post's non-overlapping records (record_batches.cc).
std::unique_ptr<DataMixer> MakeRecordBatches(const TokenStream* stream, int64_t length);

}  // namespace tinylm::delta_lm
